import * as dgram from "node:dgram"
import { Effect, Layer, ManagedRuntime } from "effect"
import { afterAll, afterEach, describe, expect, it } from "vitest"
import { EmulatorNetwork } from "../src/network/EmulatorNetwork.ts"
import { networkLayer } from "../src/network/networkLayer.ts"
import { FlyProxy } from "../src/proxy/FlyProxy.ts"
import type { ProxyBackend, ProxyRoute } from "../src/proxy/ProxyRoute.ts"
import { echoIn, greeter, readGreeting } from "./networkHelpers.ts"
import { parseProxyHeader } from "./proxyHeaderParser.ts"
import { eventually, roundTrip } from "./runtimeHelpers.ts"

const runtime = ManagedRuntime.make(FlyProxy.layer.pipe(Layer.provideMerge(networkLayer("namespace"))))
const run = <A, E>(effect: Effect.Effect<A, E, FlyProxy | EmulatorNetwork>) => runtime.runPromise(effect)
const sync = (routes: ReadonlyArray<ProxyRoute>) => run(FlyProxy.use((proxy) => proxy.sync(routes)))
const stops: Array<() => void> = []
afterEach(() => {
  for (const stop of stops.splice(0)) stop()
})
afterAll(async () => {
  await sync([])
  await runtime.dispose()
})

let machines = 0
/** A machine namespace running TCP and UDP echo on `port`. */
const echoMachine = async (port: number) => {
  const machineId = `echo${++machines}`
  const place = await run(EmulatorNetwork.use((network) => network.allocateMachineAddress(machineId)))
  const echo = echoIn(place.run, port)
  stops.push(echo.stop)
  await echo.ready
  return { machineId, address: place.address }
}
const publicIp = () => run(EmulatorNetwork.use((network) => network.allocatePublicIp("v4")))

const tcpRoute = (ip: string, port: number, backends: ReadonlyArray<ProxyBackend>, extra: Partial<ProxyRoute> = {}) =>
  ({ publicIp: ip, port, protocol: "tcp", handlers: [], backends, ...extra }) satisfies ProxyRoute

/** Sends "ping" and returns what came back: with proxy_proto, the echo returns the header too. */
const exchange = (ip: string, port: number, expectedBytes: number) => roundTrip(ip, port, "ping", expectedBytes)

describe("Fly proxy", () => {
  it("passes TCP through to the machine unchanged", async () => {
    const [ip, machine] = [await publicIp(), await echoMachine(8080)]
    await sync([tcpRoute(ip, 80, [{ ...machine, internalPort: 8080, checks: [] }])])
    expect(await exchange(ip, 80, 4)).toBe("ping")
  })

  it("prepends a PROXY v1 header with the real client and the public destination", async () => {
    const [ip, machine] = [await publicIp(), await echoMachine(8081)]
    await sync([tcpRoute(ip, 443, [{ ...machine, internalPort: 8081, checks: [] }], { handlers: ["proxy_proto"] })])
    const reply = await exchangeWithClient(ip, 443)
    const header = parseProxyHeader(reply.data)
    expect(header).toMatchObject({
      version: 1,
      family: "TCP4",
      source: reply.localAddress,
      sourcePort: reply.localPort,
      destination: ip,
      destinationPort: 443,
    })
    expect(header?.rest.toString()).toBe("ping")
  })

  it("prepends a PROXY v2 header when the port asks for v2", async () => {
    const [ip, machine] = [await publicIp(), await echoMachine(8082)]
    await sync([
      tcpRoute(ip, 8443, [{ ...machine, internalPort: 8082, checks: [] }], {
        handlers: ["proxy_proto"],
        proxyProto: "v2",
      }),
    ])
    const reply = await exchangeWithClient(ip, 8443)
    expect(parseProxyHeader(reply.data)).toMatchObject({
      version: 2,
      source: reply.localAddress,
      sourcePort: reply.localPort,
      destination: ip,
      destinationPort: 8443,
      rest: Buffer.from("ping"),
    })
  })

  it("forwards UDP datagrams and returns replies from the public address", async () => {
    const [ip, machine] = [await publicIp(), await echoMachine(5353)]
    await sync([
      {
        publicIp: ip,
        port: 5353,
        protocol: "udp",
        handlers: [],
        backends: [{ ...machine, internalPort: 5353, checks: [] }],
      },
    ])
    const reply = await new Promise<{ text: string; from: string }>((resolve) => {
      const socket = dgram.createSocket("udp4")
      socket.on("message", (message, from) => {
        socket.close()
        resolve({ text: message.toString(), from: `${from.address}:${from.port}` })
      })
      socket.send("query", 5353, ip)
    })
    expect(reply).toEqual({ text: "echo:query", from: `${ip}:5353` })
  })

  it("routes only to machines whose checks pass, and follows re-syncs", async () => {
    const ip = await publicIp()
    const greeterMachine = async (name: string) => {
      const machineId = `greeter-${name}`
      const place = await run(EmulatorNetwork.use((network) => network.allocateMachineAddress(machineId)))
      const server = greeter(place.run, 9000, name)
      stops.push(server.stop)
      await server.ready
      return { machineId, address: place.address }
    }
    const check = (port: number) => ({ type: "tcp", port, interval: "1s", timeout: "1s" })
    const healthy: ProxyBackend = { ...(await greeterMachine("healthy")), internalPort: 9000, checks: [check(9000)] }
    // Its check probes a port nothing listens on: it must never receive a connection.
    const failing: ProxyBackend = { ...(await greeterMachine("failing")), internalPort: 9000, checks: [check(9999)] }
    const isHealthy = (backend: ProxyBackend) => run(FlyProxy.use((proxy) => Effect.succeed(proxy.isHealthy(backend))))

    await sync([tcpRoute(ip, 9000, [healthy, failing])])
    await eventually(async () => (await isHealthy(healthy)) || undefined)
    expect(await isHealthy(failing)).toBe(false)
    const greetings = await Promise.all(Array.from({ length: 6 }, () => readGreeting(ip, 9000)))
    expect(greetings).toEqual(Array(6).fill("healthy"))

    // Only the failing backend left: no healthy machine, the proxy closes connections.
    await sync([tcpRoute(ip, 9000, [failing])])
    expect(await readGreeting(ip, 9000)).toBe("")
    // A backend without checks is healthy once routed.
    await sync([tcpRoute(ip, 9000, [{ ...failing, checks: [] }])])
    expect(await readGreeting(ip, 9000)).toBe("failing")
    // No route: the listener is gone.
    await sync([])
    expect(await readGreeting(ip, 9000)).toMatch(/^error: connect ECONNREFUSED/)
  })
})

/** One exchange that also reports the client's own address, to compare with the PROXY header. */
const exchangeWithClient = (ip: string, port: number) =>
  new Promise<{ data: Buffer; localAddress: string; localPort: number }>((resolve, reject) => {
    import("node:net").then(({ connect }) => {
      const socket = connect({ host: ip, port })
      let data = Buffer.alloc(0)
      let local = { localAddress: "", localPort: 0 }
      socket.setTimeout(10_000, () => socket.destroy(new Error("timeout")))
      socket.on("connect", () => {
        local = { localAddress: socket.localAddress ?? "", localPort: socket.localPort ?? 0 }
        socket.write("ping")
      })
      socket.on("data", (chunk) => {
        data = Buffer.concat([data, chunk])
        if (data.subarray(-4).toString() === "ping") socket.end()
      })
      socket.on("close", () => resolve({ data, ...local }))
      socket.on("error", reject)
    })
  })
