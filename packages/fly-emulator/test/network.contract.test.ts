import { execFileSync } from "node:child_process"
import { Effect } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import { EmulatorNetwork } from "../src/network/emulatorNetwork.ts"
import { networkLayer } from "../src/network/networkLayer.ts"
import { deadPid, greeter, hostLinks, hostRoutes, namespaces, readGreeting } from "./networkHelpers.ts"

const ours = () => namespaces().filter((name) => name.startsWith(`fto-emu-${process.pid}-`))
const run = <A, E>(effect: Effect.Effect<A, E, EmulatorNetwork>, mode: "namespace" | "loopback" = "namespace") =>
  Effect.runPromise(Effect.scoped(effect.pipe(Effect.provide(networkLayer(mode)))))

afterAll(() => expect(ours()).toEqual([]))

describe("namespace network", () => {
  it("routes public IPs from the host into the emulator namespace and removes everything on close", async () => {
    const seen = await run(
      Effect.gen(function* () {
        const network = yield* EmulatorNetwork
        expect(network.mode).toBe("namespace")
        const address = yield* network.allocatePublicIp("v4")
        expect(address).toMatch(/^203\.0\.113\.\d+$/)
        const server = yield* network.listenTcp(address, 7000)
        server.on("connection", (socket) => socket.end(`hello from ${socket.localAddress}`))
        const greeting = yield* Effect.promise(() => readGreeting(address, 7000))
        server.close()
        const v6 = yield* network.allocatePublicIp("v6")
        const server6 = yield* network.listenTcp(v6, 443)
        server6.on("connection", (socket) => socket.end("hello over v6"))
        const greeting6 = yield* Effect.promise(() => readGreeting(v6, 443))
        server6.close()
        const routes = hostRoutes()
        const slot = routes.match(new RegExp(`${address.replaceAll(".", "\\.")} via \\S+ dev (ftoemu\\d+)`))?.[1] ?? "?"
        const linkIndex = hostLinks().match(new RegExp(`^(\\d+): ${slot}@`, "m"))?.[1]
        return { address, v6, greeting, greeting6, namespaces: ours(), routes, linkIndex }
      }),
    )
    expect(seen.greeting).toBe(`hello from ${seen.address}`)
    expect(seen.greeting6).toBe("hello over v6")
    expect(seen.namespaces).toHaveLength(1)
    expect(seen.routes).toContain(`${seen.address} via`)
    // Gone after close: namespaces, and the host-side veth with every route through it. (The slot
    // and the IPv4 may be claimed again at once by a parallel emulator: the link is told by index.)
    expect(seen.linkIndex).toBeDefined()
    expect(ours()).toEqual([])
    expect(hostLinks()).not.toMatch(new RegExp(`^${seen.linkIndex}: `, "m"))
    expect(hostRoutes()).not.toContain(seen.v6)
  })

  it("gives each machine its own namespace, so two machines bind the same port", async () => {
    const seen = await run(
      Effect.gen(function* () {
        const network = yield* EmulatorNetwork
        const first = yield* network.allocateMachineAddress("m-one")
        const second = yield* network.allocateMachineAddress("m-two")
        expect(yield* network.allocateMachineAddress("m-one")).toEqual(first)
        const one = greeter(first.run, 7000, "one")
        const two = greeter(second.run, 7000, "two")
        yield* Effect.promise(() => Promise.all([one.ready, two.ready]))
        const greetings = yield* Effect.promise(() =>
          Promise.all([readGreeting(first.address, 7000), readGreeting(second.address, 7000)]),
        )
        // Reachable from the host too (the greeter binds every address).
        const globalGreeting = yield* Effect.promise(() => readGreeting(first.globalServices, 7000))
        const globalAddresses = execFileSync("ip", ["-n", first.run[3] as string, "-4", "addr", "show", "eth0"], {
          encoding: "utf8",
        })
        one.stop()
        two.stop()
        const during = ours()
        yield* network.releaseMachine("m-two")
        return { first, second, greetings, globalGreeting, globalAddresses, during, afterRelease: ours() }
      }),
    )
    expect(seen.first.address).not.toBe(seen.second.address)
    expect(seen.first.address).toMatch(/^198\.18\.\d+\.\d+$/)
    // fly-global-services is a second address of the machine, separate from its primary one.
    expect(seen.first.globalServices).toMatch(/^198\.19\.\d+\.\d+$/)
    expect(seen.first.globalServices).not.toBe(seen.second.globalServices)
    expect(seen.globalAddresses).toContain(`inet ${seen.first.globalServices}/32`)
    expect(seen.globalGreeting).toBe("one")
    expect(seen.greetings).toEqual(["one", "two"])
    expect(seen.during).toHaveLength(3)
    expect(seen.afterRelease).toHaveLength(2)
    expect(ours()).toEqual([])
  })

  it("removes namespaces left behind by an emulator process that died", async () => {
    const stale = `fto-emu-${deadPid()}-dead01`
    execFileSync("ip", ["netns", "add", stale])
    expect(namespaces()).toContain(stale)
    await run(Effect.void)
    expect(namespaces()).not.toContain(stale)
  })

  it("releases a machine whose namespace is already gone", async () => {
    const seen = await run(
      Effect.gen(function* () {
        const network = yield* EmulatorNetwork
        const machine = yield* network.allocateMachineAddress("m-broken")
        // Remove its namespace behind the network's back: releasing must still succeed.
        execFileSync("ip", ["netns", "del", machine.run[3] as string])
        yield* network.releaseMachine("m-broken")
        return ours()
      }),
    )
    expect(seen).toHaveLength(1)
  })
})

describe("loopback network", () => {
  it("hands out 127.x.y.z public IPs and runs machines on the host's loopback", async () => {
    const seen = await run(
      Effect.gen(function* () {
        const network = yield* EmulatorNetwork
        const address = yield* network.allocatePublicIp("v4")
        const server = yield* network.listenTcp(address, 0)
        server.on("connection", (socket) => socket.end("loopback"))
        const port = (server.address() as { port: number }).port
        const greeting = yield* Effect.promise(() => readGreeting(address, port))
        server.close()
        return { mode: network.mode, address, greeting, machine: yield* network.allocateMachineAddress("m") }
      }),
      "loopback",
    )
    expect(seen.mode).toBe("loopback")
    expect(seen.address).toMatch(/^127\.\d+\.\d+\.\d+$/)
    expect(seen.greeting).toBe("loopback")
    expect(seen.machine).toEqual({ address: "127.0.0.1", globalServices: expect.stringMatching(/^127\./), run: [] })
    expect(seen.machine.globalServices).not.toBe(seen.address)
  })
})
