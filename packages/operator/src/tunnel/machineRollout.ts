import { Context, Effect, Layer, Metric } from "effect"

/** `fly_tunnel_operator_rollouts`: tunnels whose Machines are being moved to a new config right now. */
export const rolloutsInProgress = Metric.gauge("fly_tunnel_operator_rollouts", {
  description: "FlyTunnels rolling their Machines to a new config (a bounded number at a time)",
})

/**
 * How many tunnels may roll their Machines at once. A change that touches every Machine (an operator upgrade, a new
 * frp version, a new token) then restarts a few tunnels' frps at a time, never every tunnel at once; within a
 * tunnel, one Machine (one region) at a time. A tunnel holds its place from its first Machine update until all its
 * Machines run the desired config, so it finishes before another starts.
 */
export class RolloutGate extends Context.Service<
  RolloutGate,
  {
    /** Whether this tunnel may update a Machine now (it holds a place, or one is free and it takes it). */
    readonly enter: (tunnelUid: string) => Effect.Effect<boolean>
    /** The tunnel's Machines all run the desired config (or it is gone): its place is free. */
    readonly leave: (tunnelUid: string) => Effect.Effect<void>
  }
>()("@fly-tunnel-operator/operator/tunnel/RolloutGate") {
  static readonly layer = (limit: number): Layer.Layer<RolloutGate> =>
    Layer.sync(RolloutGate, () => {
      const rolling = new Set<string>()
      const report = Effect.suspend(() => Metric.update(rolloutsInProgress, rolling.size))
      return RolloutGate.of({
        enter: (tunnelUid) =>
          Effect.suspend(() => {
            if (rolling.has(tunnelUid)) return Effect.succeed(true)
            if (rolling.size >= limit) return Effect.succeed(false)
            rolling.add(tunnelUid)
            return report.pipe(Effect.as(true))
          }),
        leave: (tunnelUid) => Effect.suspend(() => (rolling.delete(tunnelUid) ? report : Effect.void)),
      })
    })
}
