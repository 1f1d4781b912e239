// Where a controller's keys come from: a stream of keys to reconcile, a signal that the initial
// state has been delivered (workers start only after every source synced, like client-go's
// WaitForCacheSync), and the full key set for a periodic resync.
import { Effect, Stream } from "effect"
import { type KubeObject, keyOf } from "../kube/resourceType.ts"
import type { ResourceWatch } from "../kube/resourceWatch.ts"

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

/**
 * Keys from a ResourceWatch. `toKeys` maps an object to the keys to reconcile (default: its own
 * `namespace/name`; e.g. an owner's key for owned objects). On an update both the old and the new
 * object are mapped, so a key the object stopped pointing at is reconciled too.
 */
export const fromWatch = <A extends KubeObject>(
  watch: ResourceWatch<A>,
  toKeys: (object: A) => Iterable<string> = (object) => [keyOf(object)],
): Source => ({
  changes: watch.changes.pipe(
    Stream.flatMap((change) =>
      Stream.fromIterable(
        change.type === "Updated" ? new Set([...toKeys(change.old), ...toKeys(change.object)]) : toKeys(change.object),
      ),
    ),
  ),
  synced: watch.synced,
  keys: Effect.map(watch.list(), (objects) => [...new Set(objects.flatMap((object) => [...toKeys(object)]))]),
})
