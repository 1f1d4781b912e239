import { Clock, Effect, Schedule } from "effect"
import { KubeClient } from "../kube/kubeClient.ts"
import type { KubeError } from "../kube/kubeErrors.ts"
import { FlyTunnel, type FlyTunnelObject, keyOf } from "../kube/resourceType.ts"

/** How often the hook looks again while the operator tears tunnels down. */
const POLL = "2 seconds"

/** A transient API failure is retried a few times before the hook gives up on it. */
const transient = {
  schedule: Schedule.spaced("1 second"),
  times: 5,
  while: (error: KubeError) => error._tag === "KubeUnavailable",
}

/** One line per tunnel for the hook's log: where it is, and what its Ready condition says it waits for. */
export const describeTunnel = (tunnel: FlyTunnelObject): string => {
  const ready = tunnel.status?.conditions?.find((condition) => condition.type === "Ready")
  const why = ready === undefined ? "" : `, ${ready.reason}: ${ready.message}`
  return `${keyOf(tunnel)} (phase ${tunnel.status?.phase ?? "unknown"}${why})`
}

/**
 * Deletes every FlyTunnel, in every namespace, and waits until the operator's finalizers have let them all go (each
 * one's Fly App, Machines and IPv4 are deleted first). A FlyTunnel that appears meanwhile is deleted too. Returns
 * the ones still there when `deadline` (epoch millis) passes: empty means everything is gone.
 */
export const removeAllTunnels = Effect.fn("removeAllTunnels")(function* (
  deadline: number,
  log: (line: string) => Effect.Effect<void>,
) {
  const kube = yield* KubeClient
  const pass = Effect.gen(function* () {
    const { items } = yield* kube.list(FlyTunnel)
    for (const tunnel of items.filter((item) => item.metadata?.deletionTimestamp === undefined)) {
      yield* log(`deleting FlyTunnel ${keyOf(tunnel)}`)
      yield* kube
        .delete(FlyTunnel, tunnel.metadata?.name ?? "", tunnel.metadata?.namespace)
        .pipe(Effect.catchTag("KubeNotFound", () => Effect.void))
    }
    return items
  }).pipe(Effect.retry(transient))

  let remaining = yield* pass
  let reported = ""
  while (remaining.length > 0 && (yield* Clock.currentTimeMillis) < deadline) {
    const waiting = remaining.map(keyOf).sort().join(", ")
    if (waiting !== reported) yield* log(`waiting for the operator to tear down: ${waiting}`)
    reported = waiting
    yield* Effect.sleep(POLL)
    remaining = yield* pass
  }
  return remaining
})
