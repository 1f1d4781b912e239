import { randomBytes, randomInt } from "node:crypto"
import { Effect, type Scope } from "effect"
import { startBroker } from "./brokerClient.ts"
import type { AddressType, EmulatorNetwork, MachineAddress } from "./emulatorNetwork.ts"
import { alreadyExists, ip, ipBestEffort } from "./ipCommand.ts"
import { NetworkError } from "./networkError.ts"
import { namespacePrefix, sweepStaleNamespaces } from "./staleNamespaces.ts"

/**
 * Address plan, per emulator instance with slot S (0–255, claimed through the unique name of its
 * host-side veth `ftoemuS`):
 *   link host ⇄ emulator namespace  198.19.S.1 ⇄ 198.19.S.2 (/30), fd18:e0:0:S::1 ⇄ ::2 (/64)
 *   machine bridge                  198.18.S.1/24, machine n (4–254) at 198.18.S.n
 *   machine n's fly-global-services 198.19.S.n/32 on its eth0 (the rest of the link's /24; n ≥ 4
 *                                   keeps clear of the /30)
 *   public IPv4 (v4, shared_v4)     203.0.113.x/32   — unique on the host: claimed by its host route
 *   public IPv6 / flycast           2001:db8:f1e::x, fdaa:0:f1e::x (/128) — same
 * Every address and route on the host hangs off `ftoemuS`, which dies with the emulator
 * namespace, so deleting the namespaces removes everything.
 */
const slotCount = 256

const pool: Record<AddressType, { readonly size: number; readonly address: (n: number) => string }> = {
  v4: { size: 254, address: (n) => `203.0.113.${n + 1}` },
  shared_v4: { size: 254, address: (n) => `203.0.113.${n + 1}` },
  v6: { size: 0xfffe, address: (n) => `2001:db8:f1e::${(n + 1).toString(16)}` },
  private_v6: { size: 0xfffe, address: (n) => `fdaa:0:f1e::${(n + 1).toString(16)}` },
}

/** Tries candidates from a random start until one is free; "already exists" means taken. */
const claim = <A>(size: number, what: string, attempt: (n: number) => Effect.Effect<A, NetworkError>) =>
  Effect.gen(function* () {
    const start = randomInt(size)
    for (let i = 0; i < size; i++) {
      const n = (start + i) % size
      const taken = yield* attempt(n).pipe(
        Effect.map((value) => ({ value })),
        Effect.catchIf(alreadyExists, () => Effect.succeed(undefined)),
      )
      if (taken) return taken.value
    }
    return yield* new NetworkError({ message: `no free ${what} left` })
  })

export const namespaceNetwork: Effect.Effect<typeof EmulatorNetwork.Service, NetworkError, Scope.Scope> = Effect.gen(
  function* () {
    yield* sweepStaleNamespaces
    const name = `${namespacePrefix}${process.pid}-${randomBytes(3).toString("hex")}`
    const machines = new Map<string, MachineAddress & { readonly namespace: string; readonly index: number }>()
    const publicIps = new Set<string>()

    yield* Effect.acquireRelease(ip(["netns", "add", name]), () =>
      Effect.gen(function* () {
        yield* Effect.forEach([...machines.values()], (machine) => ipBestEffort(["netns", "del", machine.namespace]), {
          discard: true,
        })
        yield* ipBestEffort(["netns", "del", name])
      }),
    )
    const inside = (args: ReadonlyArray<string>) => ip(["-n", name, ...args])
    yield* inside(["link", "set", "lo", "up"])
    yield* ip(["netns", "exec", name, "sysctl", "-qw", "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1"])

    // The veth is deleted explicitly: a namespace outlives `ip netns del` while any socket or
    // process still references it, and its host-side routes would linger with it.
    const slot = yield* Effect.acquireRelease(
      claim(slotCount, "emulator network slot", (n) =>
        ip(["link", "add", `ftoemu${n}`, "type", "veth", "peer", "name", "uplink", "netns", name]).pipe(Effect.as(n)),
      ),
      (n) => ipBestEffort(["link", "del", `ftoemu${n}`]),
    )
    const hostLink = `ftoemu${slot}`
    const link4 = (host: number) => `198.19.${slot}.${host}`
    const link6 = (host: number) => `fd18:e0:0:${slot.toString(16)}::${host}`
    const bridge4 = (host: number) => `198.18.${slot}.${host}`
    const globalServices4 = (host: number) => link4(host)

    for (const args of [
      ["addr", "add", `${link4(1)}/30`, "dev", hostLink],
      ["addr", "add", `${link6(1)}/64`, "dev", hostLink, "nodad"],
      ["link", "set", hostLink, "up"],
      ["-n", name, "addr", "add", `${link4(2)}/30`, "dev", "uplink"],
      ["-n", name, "addr", "add", `${link6(2)}/64`, "dev", "uplink", "nodad"],
      ["-n", name, "link", "set", "uplink", "up"],
      ["-n", name, "link", "add", "machines", "type", "bridge"],
      ["-n", name, "addr", "add", `${bridge4(1)}/24`, "dev", "machines"],
      ["-n", name, "link", "set", "machines", "up"],
      ["-n", name, "route", "add", "default", "via", link4(1)],
      ["-n", name, "-6", "route", "add", "default", "via", link6(1)],
      // The machines' fly-global-services addresses: on the bridge here, behind the veth on the host
      // (the link's own /30 is more specific and stays direct).
      ["-n", name, "route", "add", `${link4(0)}/24`, "dev", "machines"],
      ["route", "add", `${bridge4(0)}/24`, "via", link4(2), "dev", hostLink],
      ["route", "add", `${link4(0)}/24`, "via", link4(2), "dev", hostLink],
    ]) {
      yield* ip(args)
    }
    const broker = yield* startBroker(name)

    const allocatePublicIp = Effect.fn("EmulatorNetwork.allocatePublicIp")(function* (type: AddressType) {
      const { size, address } = pool[type]
      const v6 = type === "v6" || type === "private_v6"
      const chosen = yield* claim(size, `${type} address`, (n) =>
        v6
          ? ip(["-6", "route", "add", `${address(n)}/128`, "via", link6(2), "dev", hostLink]).pipe(
              Effect.as(address(n)),
            )
          : ip(["route", "add", `${address(n)}/32`, "via", link4(2), "dev", hostLink]).pipe(Effect.as(address(n))),
      )
      publicIps.add(chosen)
      yield* inside(["addr", "add", `${chosen}/${v6 ? 128 : 32}`, "dev", "lo", ...(v6 ? ["nodad"] : [])])
      return chosen
    })

    const releasePublicIp = Effect.fn("EmulatorNetwork.releasePublicIp")(function* (address: string) {
      if (!publicIps.delete(address)) return
      const prefix = address.includes(":") ? 128 : 32
      yield* ipBestEffort(["-n", name, "addr", "del", `${address}/${prefix}`, "dev", "lo"])
      yield* ipBestEffort(["route", "del", `${address}/${prefix}`, "dev", hostLink])
    })

    const allocateMachineAddress = Effect.fn("EmulatorNetwork.allocateMachineAddress")(function* (machineId: string) {
      const existing = machines.get(machineId)
      if (existing) return { address: existing.address, globalServices: existing.globalServices, run: existing.run }
      const used = new Set([...machines.values()].map((machine) => machine.index))
      const index = Array.from({ length: 251 }, (_, i) => i + 4).find((n) => !used.has(n))
      if (index === undefined) return yield* new NetworkError({ message: "no free machine address left" })
      const namespace = `${name}-m${index}`
      const machine = {
        address: bridge4(index),
        globalServices: globalServices4(index),
        run: ["ip", "netns", "exec", namespace],
        namespace,
        index,
      }
      machines.set(machineId, machine)
      const setup = [
        ["netns", "add", namespace],
        ["-n", name, "link", "add", `m${index}`, "type", "veth", "peer", "name", "eth0", "netns", namespace],
        ["-n", name, "link", "set", `m${index}`, "master", "machines", "up"],
        ["-n", namespace, "link", "set", "lo", "up"],
        ["-n", namespace, "addr", "add", `${machine.address}/24`, "dev", "eth0"],
        ["-n", namespace, "addr", "add", `${machine.globalServices}/32`, "dev", "eth0"],
        ["-n", namespace, "link", "set", "eth0", "up"],
        ["-n", namespace, "route", "add", "default", "via", bridge4(1)],
      ]
      for (const args of setup) {
        yield* ip(args).pipe(Effect.tapError(() => releaseMachine(machineId)))
      }
      return { address: machine.address, globalServices: machine.globalServices, run: machine.run }
    })

    const releaseMachine = (machineId: string): Effect.Effect<void> =>
      Effect.suspend(() => {
        const machine = machines.get(machineId)
        machines.delete(machineId)
        return machine ? ipBestEffort(["netns", "del", machine.namespace]) : Effect.void
      })

    return {
      mode: "namespace",
      allocatePublicIp,
      releasePublicIp,
      allocateMachineAddress,
      releaseMachine,
      listenTcp: (address, port) => broker.bind("tcp", address, port),
      bindUdp: (address, port) => broker.bind("udp", address, port),
    } satisfies typeof EmulatorNetwork.Service
  },
)
