// Where a controller's keys come from: a stream of keys to reconcile, a signal that the initial
// state has been delivered (workers start only after every source synced, like client-go's
// WaitForCacheSync), and the full key set for a periodic resync.
import { Effect, type Stream } from "effect"

export interface Source {
  /** Keys to enqueue as changes happen. */
  readonly changes: Stream.Stream<string>
  /** Completes once the source delivered its initial state. */
  readonly synced: Effect.Effect<void>
  /** Every key the source knows now; re-enqueued on each resync. */
  readonly keys: Effect.Effect<ReadonlyArray<string>>
}

export const make = (source: {
  readonly changes: Stream.Stream<string>
  readonly synced?: Effect.Effect<void> | undefined
  readonly keys?: Effect.Effect<ReadonlyArray<string>> | undefined
}): Source => ({
  changes: source.changes,
  synced: source.synced ?? Effect.void,
  keys: source.keys ?? Effect.succeed([]),
})
