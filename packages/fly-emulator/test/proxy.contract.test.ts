import * as dgram from "node:dgram"
import { Effect, Layer, ManagedRuntime } from "effect"
import { afterAll, afterEach, describe, expect, it } from "vitest"
import { EdgeTls } from "../src/edge/edgeTls.ts"
import { EmulatorNetwork } from "../src/network/emulatorNetwork.ts"
import { networkLayer } from "../src/network/networkLayer.ts"
import { FlyProxy } from "../src/proxy/flyProxy.ts"
import type { ProxyBackend, ProxyRoute } from "../src/proxy/proxyRoute.ts"
import { addressEchoIn, echoIn, greeter, readGreeting } from "./networkHelpers.ts"
import { parseProxyHeader } from "./proxyHeaderParser.ts"
import { eventually, roundTrip } from "./runtimeHelpers.ts"

const runtime = ManagedRuntime.make(
  FlyProxy.layer.pipe(Layer.provideMerge(networkLayer("namespace")), Layer.provide(EdgeTls.layerGenerated)),
)
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
/** A machine namespace running TCP echo on `port` and UDP echo on `udpBind`:`port` (fly-global-services by default). */
const echoMachine = async (port: number, udpBind: "fly-global-services" | "0.0.0.0" = "fly-global-services") => {
  const machineId = `echo${++machines}`
  const place = await run(EmulatorNetwork.use((network) => network.allocateMachineAddress(machineId)))
  const echo = echoIn(place.run, port, udpBind === "0.0.0.0" ? "0.0.0.0" : place.globalServices)
  stops.push(echo.stop)
  await echo.ready
  return { machineId, address: place.address, globalServices: place.globalServices }
}

const stats = () => run(FlyProxy.use((proxy) => Effect.sync(() => proxy.stats())))

/** A UDP client of `ip:port` that records every datagram it gets back. */
const udpClient = (ip: string, port: number) => {
  const socket = dgram.createSocket("udp4")
  const replies: Array<{ text: string; from: string }> = []
  socket.on("message", (message, from) =>
    replies.push({ text: message.toString(), from: `${from.address}:${from.port}` }),
  )
  stops.push(() => socket.close())
  return { replies, send: (text: string) => socket.send(text, port, ip) }
}
const publicIp = () => run(EmulatorNetwork.use((network) => network.allocatePublicIp("v4")))

const tcpRoute = (ip: string, port: number, backends: ReadonlyArray<ProxyBackend>, extra: Partial<ProxyRoute> = {}) =>
  ({ publicIp: ip, port, protocol: "tcp", handlers: [], backends, ...extra }) satisfies ProxyRoute
const udpRoute = (ip: string, port: number, backends: ReadonlyArray<ProxyBackend>) =>
  ({ publicIp: ip, port, protocol: "udp", handlers: [], backends }) satisfies ProxyRoute

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

  it("forwards UDP datagrams to fly-global-services and returns replies from the public address", async () => {
    const [ip, machine] = [await publicIp(), await echoMachine(5353)]
    expect(machine.globalServices).not.toBe(machine.address)
    await sync([udpRoute(ip, 5353, [{ ...machine, internalPort: 5353, checks: [] }])])
    const client = udpClient(ip, 5353)
    client.send("query")
    expect(await eventually(() => client.replies[0])).toEqual({ text: "echo:query", from: `${ip}:5353` })
  })

  it("drops a reply a machine sends from another address (a UDP socket bound to 0.0.0.0)", async () => {
    const [ip, machine] = [await publicIp(), await echoMachine(5354, "0.0.0.0")]
    await sync([udpRoute(ip, 5354, [{ ...machine, internalPort: 5354, checks: [] }])])
    const before = await stats()
    const client = udpClient(ip, 5354)
    client.send("query")
    // The datagram reached the machine (bound to every address) and its reply left from the
    // primary address: the proxy counts it dropped, and nothing came back to the client.
    await eventually(async () => ((await stats()).udpRepliesDropped > before.udpRepliesDropped ? true : undefined))
    expect((await stats()).udpRepliesForwarded).toBe(before.udpRepliesForwarded)
    expect(client.replies).toEqual([])
  })

  it("delivers UDP to fly-global-services only, and TCP to the primary address", async () => {
    const ip = await publicIp()
    const machineId = `dual${++machines}`
    const place = await run(EmulatorNetwork.use((network) => network.allocateMachineAddress(machineId)))
    const echo = addressEchoIn(place.run, 5355, { primary: place.address, globalServices: place.globalServices })
    stops.push(echo.stop)
    await echo.ready
    const backend = { machineId, address: place.address, globalServices: place.globalServices, checks: [] }
    await sync([
      udpRoute(ip, 5355, [{ ...backend, internalPort: 5355 }]),
      tcpRoute(ip, 5355, [{ ...backend, internalPort: 5355 }]),
    ])
    const before = await stats()
    const client = udpClient(ip, 5355)
    for (const n of [1, 2, 3, 4, 5]) client.send(`q${n}`)
    await eventually(() => (client.replies.length === 5 ? true : undefined))
    expect(client.replies.map((reply) => reply.text).sort()).toEqual([
      "global:q1",
      "global:q2",
      "global:q3",
      "global:q4",
      "global:q5",
    ])
    const after = await stats()
    expect(after.udpDatagramsForwarded - before.udpDatagramsForwarded).toBe(5)
    expect(after.udpRepliesDropped).toBe(before.udpRepliesDropped)
    expect(await readGreeting(ip, 5355)).toBe("tcp on primary")
  })

  it("routes only to machines whose checks pass, and follows re-syncs", async () => {
    const ip = await publicIp()
    const greeterMachine = async (name: string) => {
      const machineId = `greeter-${name}`
      const place = await run(EmulatorNetwork.use((network) => network.allocateMachineAddress(machineId)))
      const server = greeter(place.run, 9000, name)
      stops.push(server.stop)
      await server.ready
      return { machineId, address: place.address, globalServices: place.globalServices }
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

describe("Fly proxy on the loopback network", () => {
  const loopback = ManagedRuntime.make(
    FlyProxy.layer.pipe(Layer.provideMerge(networkLayer("loopback")), Layer.provide(EdgeTls.layerGenerated)),
  )
  const inLoopback = <A, E>(effect: Effect.Effect<A, E, FlyProxy | EmulatorNetwork>) => loopback.runPromise(effect)
  afterAll(async () => {
    await inLoopback(FlyProxy.use((proxy) => proxy.sync([])))
    await loopback.dispose()
  })

  it("delivers UDP to the machine's own 127.x fly-global-services address", async () => {
    const place = await inLoopback(EmulatorNetwork.use((network) => network.allocateMachineAddress("lo-udp")))
    const ip = await inLoopback(EmulatorNetwork.use((network) => network.allocatePublicIp("v4")))
    const echo = echoIn(place.run, 5356, place.globalServices)
    stops.push(echo.stop)
    await echo.ready
    const backend = { machineId: "lo-udp", ...place, internalPort: 5356, checks: [] }
    await inLoopback(FlyProxy.use((proxy) => proxy.sync([udpRoute(ip, 5356, [backend])])))
    const client = udpClient(ip, 5356)
    client.send("query")
    expect(await eventually(() => client.replies[0])).toEqual({ text: "echo:query", from: `${ip}:5356` })
  })
})
