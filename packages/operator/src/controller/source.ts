// Where a controller's keys come from: a stream of keys to reconcile, a signal that the initial
// state has been delivered (workers start only after every source synced, like client-go's
// WaitForCacheSync), and the full key set for a periodic resync.
import { Effect, Stream } from "effect"
import type { Informer, InformerChange } from "../kube/informer.ts"
import { type KubeObject, keyOf } from "../kube/resourceType.ts"

export interface Source {
  /** Keys to enqueue as changes happen. */
  readonly changes: Stream.Stream<string>
  /** Completes once the source delivered its initial state. */
  readonly synced: Effect.Effect<void>
  /** Every key the source knows now; re-enqueued on each resync. */
  readonly keys: Effect.Effect<ReadonlyArray<string>>
}

/**
 * Keys from an informer's changes. `toKeys` maps a change to the keys to reconcile — the object's
 * own key by default, or an owner's; returning none filters the event out (controller-runtime's
 * predicates), so objects the controller does not manage cost no reconcile. A resync asks it for
 * every stored object as if it had just been added.
 */
export const fromInformer = <A extends KubeObject>(
  informer: Informer<A>,
  toKeys: (change: InformerChange<A>) => Iterable<string> = (change) => [keyOf(change.object)],
): Source => ({
  changes: informer.changes.pipe(Stream.flatMap((change) => Stream.fromIterable(new Set(toKeys(change))))),
  synced: informer.synced,
  keys: Effect.map(informer.list(), (objects) => [
    ...new Set(objects.flatMap((object) => [...toKeys({ type: "Added", object })])),
  ]),
})

/**
 * Keys from an informer's changes when finding them needs a look elsewhere (e.g. the tunnels that target a changed
 * Service). Such a source adds nothing to a resync: the objects it points at have sources of their own.
 */
export const fromInformerLookup = <A extends KubeObject>(
  informer: Informer<A>,
  toKeys: (change: InformerChange<A>) => Effect.Effect<Iterable<string>>,
): Source => ({
  changes: informer.changes.pipe(
    Stream.mapEffect(toKeys),
    Stream.flatMap((keys) => Stream.fromIterable(new Set(keys))),
  ),
  synced: informer.synced,
  keys: Effect.succeed([]),
})
