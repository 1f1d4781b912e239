import { randomBytes } from "node:crypto"
import { existsSync } from "node:fs"
import { Effect } from "effect"
import { alreadyExists, ip, ipBestEffort } from "../serviceNetwork/ipCommand.ts"
import { ServiceNetworkError } from "../serviceNetwork/serviceNetworkError.ts"
import { startScoped } from "../startScoped.ts"

/**
 * A host on the "LAN", for address targets: a network namespace with a private address (172.31.0.0/16, inside the
 * chart's default `addressTargets.allowedCIDRs`, outside any cluster range), joined to the host by a veth pair, so
 * frpc (the node agent's processes, in the host's network) reaches programs run inside it at that address — as it
 * would reach a NAS or a VM beside the cluster.
 *
 * Address plan, per LAN host with slot S (0–63, claimed through the unique name of the host-side veth `ftolanS`):
 *   host 172.31.0.(4S+1)/30 ⇄ LAN host 172.31.0.(4S+2)/30
 */
export interface LanHost {
  /** The network namespace, e.g. `fto-lan-1234-a1b2c3`. */
  readonly namespace: string
  /** The LAN host's private address: the address target. */
  readonly address: string
  /** Command prefix that runs a program on the LAN host: `[...exec, program, ...args]`. */
  readonly exec: ReadonlyArray<string>
  /** `exec` as one shell string, what `./dev start` prints as LAN_EXEC. */
  readonly execCommand: string
}

const PREFIX = "fto-lan-"
const SLOTS = 64

/** Removes LAN host namespaces whose owning process is gone (a SIGKILLed run). */
const sweepStaleLanHosts: Effect.Effect<void> = Effect.gen(function* () {
  const listing = yield* ip(["netns", "list"]).pipe(Effect.orElseSucceed(() => ""))
  const stale = listing
    .split("\n")
    .map((line) => line.split(" ")[0] ?? "")
    .filter((name) => name.startsWith(PREFIX))
    .filter((name) => {
      const pid = Number(name.slice(PREFIX.length).split("-")[0])
      return Number.isInteger(pid) && pid > 0 && !existsSync(`/proc/${pid}`)
    })
  yield* Effect.forEach(stale, (name) => ipBestEffort(["netns", "del", name]), { discard: true })
})

/** Creates the LAN host for the lifetime of the current scope; closing the scope deletes it and its link. */
const acquireLanHost = Effect.fn("acquireLanHost")(function* () {
  yield* sweepStaleLanHosts
  const namespace = `${PREFIX}${process.pid}-${randomBytes(3).toString("hex")}`
  yield* Effect.acquireRelease(ip(["netns", "add", namespace]), () => ipBestEffort(["netns", "del", namespace]))
  let slot: number | undefined
  for (let n = 0; n < SLOTS && slot === undefined; n++) {
    const claimed = yield* ip([
      "link",
      "add",
      `ftolan${n}`,
      "type",
      "veth",
      "peer",
      "name",
      "eth0",
      "netns",
      namespace,
    ]).pipe(
      Effect.as(true),
      Effect.catchIf(alreadyExists, () => Effect.succeed(false)),
    )
    if (claimed) slot = n
  }
  if (slot === undefined)
    return yield* new ServiceNetworkError({ message: `no free LAN host slot (all ${SLOTS} taken)` })
  const hostLink = `ftolan${slot}`
  yield* Effect.addFinalizer(() => ipBestEffort(["link", "del", hostLink]))
  const hostAddress = `172.31.0.${slot * 4 + 1}`
  const address = `172.31.0.${slot * 4 + 2}`
  for (const args of [
    ["addr", "add", `${hostAddress}/30`, "dev", hostLink],
    ["link", "set", hostLink, "up"],
    ["-n", namespace, "link", "set", "lo", "up"],
    ["-n", namespace, "addr", "add", `${address}/30`, "dev", "eth0"],
    ["-n", namespace, "link", "set", "eth0", "up"],
    ["-n", namespace, "route", "add", "default", "via", hostAddress],
  ]) {
    yield* ip(args)
  }
  const exec = ["ip", "netns", "exec", namespace]
  return { namespace, address, exec, execCommand: exec.join(" ") } satisfies LanHost
})

export interface RunningLanHost extends LanHost {
  stop(): Promise<void>
}

/** Promise front door; see `acquireLanHost`. */
export const startLanHost = (): Promise<RunningLanHost> => startScoped(acquireLanHost())
