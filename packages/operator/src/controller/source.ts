// Where a controller's keys come from: a subscription that hands over the keys of the initial state once the source
// synced, then a stream of keys as changes happen (client-go's event handler registration and its HasSynced: the
// controller queues every source's initial keys before its workers start), and the full key set for a periodic resync.
import { Effect, type Queue, type Scope, Stream } from "effect"
import type { Informer, InformerChange } from "../kube/informer.ts"
import { type KubeObject, keyOf } from "../kube/resourceType.ts"

export interface SourceSubscription {
  /** Keys for the state the source held when it synced. */
  readonly initial: ReadonlyArray<string>
  /** Keys to enqueue as changes happen after that. */
  readonly changes: Stream.Stream<string>
}

export interface Source {
  /** Waits until the source synced, then subscribes (for as long as the scope lives). */
  readonly subscribe: Effect.Effect<SourceSubscription, never, Scope.Scope>
  /** Every key the source knows now; re-enqueued on each resync. */
  readonly keys: Effect.Effect<ReadonlyArray<string>>
}

/** Keys that something outside Kubernetes wakes (an answer from Fly): nothing to sync, nothing to resync. */
export const fromQueue = (queue: Queue.Dequeue<string>): Source => ({
  subscribe: Effect.succeed({ initial: [], changes: Stream.fromQueue(queue) }),
  keys: Effect.succeed([]),
})

const added = <A>(object: A): InformerChange<A> => ({ type: "Added", object })

/**
 * Keys from an informer's changes. `toKeys` maps a change to the keys to reconcile — the object's
 * own key by default, or an owner's; returning none filters the event out (controller-runtime's
 * predicates), so objects the controller does not manage cost no reconcile. The initial state and a
 * resync ask it for every stored object as if it had just been added.
 */
export const fromInformer = <A extends KubeObject>(
  informer: Informer<A>,
  toKeys: (change: InformerChange<A>) => Iterable<string> = (change) => [keyOf(change.object)],
): Source => {
  const keysOf = (objects: ReadonlyArray<A>) => [...new Set(objects.flatMap((object) => [...toKeys(added(object))]))]
  return {
    subscribe: Effect.map(informer.subscribe, ({ initial, changes }) => ({
      initial: keysOf(initial),
      changes: changes.pipe(Stream.flatMap((change) => Stream.fromIterable(new Set(toKeys(change))))),
    })),
    keys: Effect.map(informer.list(), keysOf),
  }
}

/**
 * Keys from an informer's changes when finding them needs a look elsewhere (e.g. the tunnels that target a changed
 * Service). Such a source adds nothing to a resync: the objects it points at have sources of their own.
 */
export const fromInformerLookup = <A extends KubeObject>(
  informer: Informer<A>,
  toKeys: (change: InformerChange<A>) => Effect.Effect<Iterable<string>>,
): Source => ({
  subscribe: Effect.flatMap(informer.subscribe, ({ initial, changes }) =>
    Effect.map(
      Effect.forEach(initial, (object) => toKeys(added(object))),
      (found) => ({
        initial: [...new Set(found.flatMap((keys) => [...keys]))],
        changes: changes.pipe(
          Stream.mapEffect(toKeys),
          Stream.flatMap((keys) => Stream.fromIterable(new Set(keys))),
        ),
      }),
    ),
  ),
  keys: Effect.succeed([]),
})
