import { randomBytes } from "node:crypto"
import * as net from "node:net"
import * as tls from "node:tls"
import { Effect, Layer, ManagedRuntime } from "effect"
import { afterAll, afterEach, describe, expect, inject, it } from "vitest"
import { EdgeTls } from "../src/edge/edgeTls.ts"
import { EmulatorNetwork } from "../src/network/emulatorNetwork.ts"
import { networkLayer } from "../src/network/networkLayer.ts"
import { FlyProxy } from "../src/proxy/flyProxy.ts"
import type { ProxyRoute } from "../src/proxy/proxyRoute.ts"
import { MachineRuntime } from "../src/runtime/machineRuntime.ts"
import { parseProxyHeader } from "./proxyHeaderParser.ts"
import { base64, eventually, expectNoSecret, killChildren, startEchoServer, startFrpc } from "./runtimeHelpers.ts"

/**
 * The end-to-end check at this layer: an app's frps Machine behind a dedicated IPv4 on the
 * emulated Fly proxy, a real frpc dialing that public IP with token and TLS, bytes reaching a
 * loopback echo server, and Fly's PROXY header arriving there unchanged.
 */
const tools = inject("tools")
const runtime = ManagedRuntime.make(
  Layer.mergeAll(MachineRuntime.layer({ binaries: { frps: tools.frps } }), FlyProxy.layer).pipe(
    Layer.provideMerge(networkLayer("namespace")),
    Layer.provide(EdgeTls.layerGenerated),
  ),
)
type Services = MachineRuntime | FlyProxy | EmulatorNetwork
const run = <A, E>(effect: Effect.Effect<A, E, Services>) => runtime.runPromise(effect)
afterEach(killChildren)
afterAll(() => runtime.dispose())

const token = randomBytes(24).toString("hex")
// The token reaches frps only as an app secret in its env; the config itself is a secret file.
const frpsToml = `
bindPort = 7000
auth.token = "{{ .Envs.FRP_TOKEN }}"
transport.tls.force = true
allowPorts = [{ single = 6000 }]
log.disablePrintColor = true
`
const frpcToml = (serverAddr: string, localPort: number) => `
serverAddr = "${serverAddr}"
serverPort = 7000
loginFailExit = false
auth.token = "${token}"
transport.tls.enable = true
log.disablePrintColor = true
[[proxies]]
name = "echo"
type = "tcp"
localIP = "127.0.0.1"
localPort = ${localPort}
remotePort = 6000
`

/** Sends `payload`; resolves with what came back once it ends with the payload, and the client's address. */
const exchange = (host: string, port: number, payload: string) =>
  new Promise<{ data: Buffer; local: string }>((resolve) => {
    const socket = net.connect({ host, port })
    let data = Buffer.alloc(0)
    let local = ""
    socket.setTimeout(10_000, () => socket.destroy())
    socket.on("connect", () => {
      local = `${socket.localAddress}:${socket.localPort}`
      socket.write(payload)
    })
    socket.on("data", (chunk) => {
      data = Buffer.concat([data, chunk])
      if (data.subarray(-payload.length).toString() === payload) socket.end()
    })
    socket.on("close", () => resolve({ data, local }))
    socket.on("error", () => {})
  })

describe("frps machine behind the Fly proxy", () => {
  it("carries bytes from the public IPv4 through real frps and frpc, with Fly's PROXY header", async () => {
    const echo = await startEchoServer()
    const machineId = `${randomBytes(7).toString("hex")}`
    const publicIp = await run(
      Effect.gen(function* () {
        const network = yield* EmulatorNetwork
        const place = yield* network.allocateMachineAddress(machineId)
        const publicIp = yield* network.allocatePublicIp("v4")
        yield* MachineRuntime.use((machines) =>
          machines.start(
            {
              id: machineId,
              app: "frp-default-my-svc",
              instanceId: "01JTESTVERSION0000000000000",
              image: "ghcr.io/fatedier/frps:v0.71.0",
              region: "iad",
              privateIp: "fdaa:0:1:a7b:1::2",
              config: {
                image: "ghcr.io/fatedier/frps:v0.71.0",
                init: { cmd: ["-c", "/etc/frp/frps.toml"] },
                files: [{ guest_path: "/etc/frp/frps.toml", secret_name: "FRPS_TOML" }],
              },
              env: { FRP_TOKEN: token },
              secrets: { FRP_TOKEN: token, FRPS_TOML: base64(frpsToml) },
              place,
            },
            () => {},
          ),
        )
        const backend = { machineId, address: place.address, globalServices: place.globalServices }
        const routes: ReadonlyArray<ProxyRoute> = [
          {
            publicIp,
            port: 7000,
            protocol: "tcp",
            handlers: [],
            backends: [{ ...backend, internalPort: 7000, checks: [] }],
          },
          {
            publicIp,
            port: 6000,
            protocol: "tcp",
            handlers: ["proxy_proto"],
            proxyProto: "v2",
            // Healthy only once frpc has registered the remote port on frps (the HA design's check).
            backends: [{ ...backend, internalPort: 6000, checks: [{ type: "tcp", port: 6000, interval: "1s" }] }],
          },
        ]
        yield* FlyProxy.use((proxy) => proxy.sync(routes))
        return publicIp
      }),
    )
    const frpsLog = () => run(MachineRuntime.use((machines) => machines.log(machineId)))
    await eventually(async () => ((await frpsLog()).includes("frps started successfully") ? true : undefined))

    const frpc = startFrpc(tools.frpc, frpcToml(publicIp, echo.port))
    await eventually(() => (frpc.log().includes("start proxy success") ? true : undefined))

    const reply = await eventually(async () => {
      const attempt = await exchange(publicIp, 6000, "hello through fly")
      return attempt.data.length > 0 ? attempt : undefined
    })
    const header = parseProxyHeader(reply.data)
    expect(header?.rest.toString()).toBe("hello through fly")
    expect(`${header?.source}:${header?.sourcePort}`).toBe(reply.local)
    expect(header).toMatchObject({ version: 2, destination: publicIp, destinationPort: 6000 })
    // What the echo server received first is exactly Fly's header (frpc added none of its own).
    expect(parseProxyHeader(echo.firstChunks.at(-1) ?? Buffer.alloc(0))?.source).toBe(header?.source)
    expect(await frpsLog()).toContain("new proxy [echo] type [tcp] success")
    expectNoSecret(await frpsLog(), token)
    echo.close()
  })

  it("with a test's man in the middle switched on, the client meets the interceptor's certificate, not frps's", async () => {
    const machineId = `${randomBytes(7).toString("hex")}`
    const { publicIp, backend } = await run(
      Effect.gen(function* () {
        const network = yield* EmulatorNetwork
        const place = yield* network.allocateMachineAddress(machineId)
        const publicIp = yield* network.allocatePublicIp("v4")
        yield* MachineRuntime.use((machines) =>
          machines.start(
            {
              id: machineId,
              app: "frp-intercepted",
              instanceId: "01JTESTVERSION0000000000001",
              image: "ghcr.io/fatedier/frps:v0.71.0",
              region: "iad",
              privateIp: "fdaa:0:1:a7b:1::3",
              config: {
                image: "ghcr.io/fatedier/frps:v0.71.0",
                init: { cmd: ["-c", "/etc/frp/frps.toml"] },
                files: [{ guest_path: "/etc/frp/frps.toml", secret_name: "FRPS_TOML" }],
              },
              env: { FRP_TOKEN: token },
              secrets: { FRP_TOKEN: token, FRPS_TOML: base64(frpsToml) },
              place,
            },
            () => {},
          ),
        )
        return {
          publicIp,
          backend: {
            machineId,
            address: place.address,
            globalServices: place.globalServices,
            internalPort: 7000,
            checks: [],
          },
        }
      }),
    )
    const frpsLog = () => run(MachineRuntime.use((machines) => machines.log(machineId)))
    await eventually(async () => ((await frpsLog()).includes("frps started successfully") ? true : undefined))
    const route = (interceptTls: boolean): ProxyRoute => ({
      publicIp,
      port: 7000,
      protocol: "tcp",
      handlers: [],
      backends: [backend],
      interceptTls,
    })
    /** The subject of the certificate a TLS client is shown on the public port. */
    const shownSubject = () =>
      new Promise<string>((resolve) => {
        const socket = tls.connect({ host: publicIp, port: 7000, rejectUnauthorized: false })
        socket.once("secureConnect", () => {
          resolve(String(socket.getPeerCertificate().subject?.CN ?? ""))
          socket.destroy()
        })
        socket.once("error", (error) => resolve(`error: ${error.message}`))
      })
    const intercepted = () => run(FlyProxy.use((proxy) => Effect.sync(() => proxy.stats().tlsInterceptedConnections)))

    await run(FlyProxy.use((proxy) => proxy.sync([route(true)])))
    const before = await intercepted()
    expect(await shownSubject()).toBe("intercepting proxy")
    expect(await intercepted()).toBe(before + 1)

    // Switched off again: frps answers itself (its own self-signed certificate, without a subject).
    await run(FlyProxy.use((proxy) => proxy.sync([route(false)])))
    expect(await shownSubject()).toBe("")
    expect(await intercepted()).toBe(before + 1)
    await run(FlyProxy.use((proxy) => proxy.sync([])))
  })
})
