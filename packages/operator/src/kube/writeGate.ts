import { Context, Effect } from "effect"

/** Asked before every write to the API server; the default lets every write through (see leadershipFence.ts). */
export const WriteGate = Context.Reference<Effect.Effect<void>>("@fly-tunnel-operator/operator/kube/WriteGate", {
  defaultValue: () => Effect.void,
})
