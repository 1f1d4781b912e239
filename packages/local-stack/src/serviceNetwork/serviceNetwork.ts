import { randomBytes } from "node:crypto"
import { Effect } from "effect"
import { startScoped } from "../startScoped.ts"
import { alreadyExists, ip, ipBestEffort } from "./ipCommand.ts"
import { ServiceNetworkError } from "./serviceNetworkError.ts"
import { serviceNamespacePrefix, sweepStaleServiceNetworks } from "./staleServiceNetworks.ts"

/**
 * Where ClusterIPs live in the local stack, which has no kube-proxy: a network namespace whose loopback owns the
 * whole service range (`ip route add local <range> dev lo`), so a process run inside it can bind any ClusterIP:port
 * and is that Service's backend. The host routes the range into the namespace over a veth pair, so host processes
 * (frpc Pods run by the node agent) reach those backends at the ClusterIP.
 *
 * Address plan, per network with slot S (0–63, claimed through the unique name of the host-side veth `ftosvcS`):
 *   link host ⇄ namespace   198.51.100.(4S+1) ⇄ 198.51.100.(4S+2) (/30, TEST-NET-2)
 *   service range           host route `<range> via 198.51.100.(4S+2)`, local inside the namespace
 * Everything on the host hangs off `ftosvcS`, which is deleted on stop (and dies with the namespace).
 */
export interface ServiceNetwork {
  /** The network namespace, e.g. `fto-svc-1234-a1b2c3`. */
  readonly namespace: string
  /** The IPv4 range routed into it: the control plane's `--service-cluster-ip-range`. */
  readonly serviceCidr: string
  /** Command prefix that runs a program inside the namespace: `[...exec, program, ...args]`. */
  readonly exec: ReadonlyArray<string>
  /** `exec` as one shell string (`ip netns exec <namespace>`), what `./dev start` prints as BACKEND_EXEC. */
  readonly backendExec: string
}

export interface ServiceNetworkOptions {
  /** The range to route; when absent the first free one of 10.97.0.0/16 … 10.112.0.0/16 is claimed. */
  readonly serviceCidr?: string
}

const SLOTS = 64
// 10.96.0.0/16, the control plane's default, is left to test runs, which route their shared control plane's range.
const CANDIDATE_RANGES = Array.from({ length: 16 }, (_, n) => `10.${97 + n}.0.0/16`)

const slotAddress = (slot: number, host: 1 | 2) => `198.51.100.${slot * 4 + host}`

/** Creates the namespace for the lifetime of the current scope; closing the scope deletes it and every route. */
const acquireServiceNetwork = Effect.fn("acquireServiceNetwork")(function* (options: ServiceNetworkOptions = {}) {
  yield* sweepStaleServiceNetworks
  const namespace = `${serviceNamespacePrefix}${process.pid}-${randomBytes(3).toString("hex")}`
  yield* Effect.acquireRelease(ip(["netns", "add", namespace]), () => ipBestEffort(["netns", "del", namespace]))

  let slot: number | undefined
  for (let n = 0; n < SLOTS && slot === undefined; n++) {
    const claimed = yield* ip([
      "link",
      "add",
      `ftosvc${n}`,
      "type",
      "veth",
      "peer",
      "name",
      "uplink",
      "netns",
      namespace,
    ]).pipe(
      Effect.as(true),
      Effect.catchIf(alreadyExists, () => Effect.succeed(false)),
    )
    if (claimed) slot = n
  }
  if (slot === undefined)
    return yield* new ServiceNetworkError({ message: `no free service network slot (all ${SLOTS} taken)` })
  const hostLink = `ftosvc${slot}`
  // Deleted explicitly: a namespace still referenced by an exiting process outlives `netns del`, and with it the
  // veth and the host route. Deleting one end of the pair removes both at once.
  yield* Effect.addFinalizer(() => ipBestEffort(["link", "del", hostLink]))
  const hostAddress = slotAddress(slot, 1)
  const namespaceAddress = slotAddress(slot, 2)

  for (const args of [
    ["addr", "add", `${hostAddress}/30`, "dev", hostLink],
    ["link", "set", hostLink, "up"],
    ["-n", namespace, "link", "set", "lo", "up"],
    ["-n", namespace, "addr", "add", `${namespaceAddress}/30`, "dev", "uplink"],
    ["-n", namespace, "link", "set", "uplink", "up"],
    ["-n", namespace, "route", "add", "default", "via", hostAddress],
  ]) {
    yield* ip(args)
  }

  // The host route is the claim on a range: a second network routing the same range fails with "File exists".
  const routeRange = (range: string) =>
    ip(["route", "add", range, "via", namespaceAddress, "dev", hostLink, "src", hostAddress]).pipe(Effect.as(range))
  let serviceCidr: string | undefined
  if (options.serviceCidr !== undefined) {
    const wanted = options.serviceCidr
    serviceCidr = yield* routeRange(wanted).pipe(
      Effect.catchIf(alreadyExists, () =>
        Effect.fail(
          new ServiceNetworkError({
            message: `the service range ${wanted} is already routed on this host (another local stack or e2e run?)`,
          }),
        ),
      ),
    )
  } else {
    for (const range of CANDIDATE_RANGES) {
      serviceCidr = yield* routeRange(range).pipe(Effect.catchIf(alreadyExists, () => Effect.succeed(undefined)))
      if (serviceCidr !== undefined) break
    }
    if (serviceCidr === undefined) {
      return yield* new ServiceNetworkError({
        message: `every candidate service range is routed already: ${CANDIDATE_RANGES.join(", ")}`,
      })
    }
  }
  yield* ip(["-n", namespace, "route", "add", "local", serviceCidr, "dev", "lo"])

  const exec = ["ip", "netns", "exec", namespace]
  return { namespace, serviceCidr, exec, backendExec: exec.join(" ") } satisfies ServiceNetwork
})

/** A running service network; `stop()` deletes the namespace (and with it the veth pair and the host route). */
export interface RunningServiceNetwork extends ServiceNetwork {
  stop(): Promise<void>
}

/** Promise front door for scripts and tests; see `acquireServiceNetwork`. */
export const startServiceNetwork = (options: ServiceNetworkOptions = {}): Promise<RunningServiceNetwork> =>
  startScoped(acquireServiceNetwork(options))
