import { Phases } from "@fly-tunnel-operator/api"
import { Effect, Metric, Schedule } from "effect"
import type { Informer } from "../kube/informer.ts"
import type { FlyTunnelObject } from "../kube/resourceType.ts"

/** `fly_tunnel_operator_tunnels{phase}`: how many FlyTunnels are in each phase (Pending for no status yet). */
export const tunnelsByPhase = Metric.gauge("fly_tunnel_operator_tunnels", {
  description: "FlyTunnels by status.phase",
})

/** Counts the watch's store every few seconds, so the gauge needs no bookkeeping in the reconcile path. */
export const reportTunnelPhases = (tunnels: Informer<FlyTunnelObject>) =>
  Effect.gen(function* () {
    const all = yield* tunnels.list()
    for (const phase of Phases) {
      const count = all.filter((tunnel) => (tunnel.status?.phase ?? "Pending") === phase).length
      yield* Metric.update(Metric.withAttributes(tunnelsByPhase, { phase }), count)
    }
  }).pipe(Effect.repeat(Schedule.spaced("10 seconds")))
