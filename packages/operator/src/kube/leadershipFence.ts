import { Clock, Context, Effect } from "effect"

/**
 * What leadership allows this process right now. Under leader election a replica may change things only until its
 * fence passes: the start of its last successful renewal plus `renewDeadline`, which is shorter than the
 * `leaseDuration` another replica waits before taking the lease — so this process stops writing (and its in-flight
 * reconciles are cut) before anyone else can start. Without leader election the fence never passes.
 */
export interface Fence {
  /** Whether writes may still be sent. */
  readonly held: Effect.Effect<boolean>
  /**
   * Until when a billed create without a natural key (a dedicated IPv4) must wait after this term began by taking
   * over a lease its holder did not release: the requests that holder had in flight to Fly settle by then. 0: none.
   */
  readonly settlingUntil: Effect.Effect<number>
}

export const alwaysHeld: Fence = { held: Effect.succeed(true), settlingUntil: Effect.succeed(0) }

export const LeadershipFence = Context.Reference<Fence>("@fly-tunnel-operator/operator/kube/LeadershipFence", {
  defaultValue: () => alwaysHeld,
})

/** The gate writes pass: interrupts the calling fiber once the fence has passed, so nothing more is sent. */
export const fenceGate = (fence: Fence): Effect.Effect<void> =>
  Effect.flatMap(fence.held, (held) => (held ? Effect.void : Effect.interrupt))

/** A fence driven by the leader election's own state (epoch milliseconds). */
export const fenceOf = (state: { readonly validUntil: () => number; readonly settlingUntil: () => number }): Fence => ({
  held: Effect.map(Clock.currentTimeMillis, (now) => now < state.validUntil()),
  settlingUntil: Effect.sync(state.settlingUntil),
})
