import { Context, Effect } from "effect"

/**
 * Asked before every attempt of a call that changes something on Fly (retries included). The default lets every call
 * through; a leader-elected caller provides one that interrupts the calling fiber once this process may no longer
 * act (its lease may have passed to another replica), so nothing more is sent to Fly from it.
 */
export const MutationGate = Context.Reference<Effect.Effect<void>>("@fly-tunnel-operator/fly/MutationGate", {
  defaultValue: () => Effect.void,
})
