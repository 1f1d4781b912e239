// An informer: list, then watch from the list's resourceVersion, keeping an in-memory store and
// publishing changes. A watch the server ends (timeoutSeconds) resumes from the last seen
// resourceVersion; 410 Gone re-lists, emitting Deleted for what vanished meanwhile; any other
// failure reconnects with backoff. Resource versions are opaque: compared for equality only.
// `transform` trims each object before it is stored (client-go's SetTransform), so the store holds
// only what the controllers read.
import { Deferred, Effect, Option, PubSub, Schedule, type Scope, Stream } from "effect"
import { KubeClient, type ListOptions } from "./kubeClient.ts"
import type { KubeError } from "./kubeErrors.ts"
import { type KubeObject, keyOf, type ResourceType } from "./resourceType.ts"

export type InformerChange<A> =
  | { readonly type: "Added"; readonly object: A }
  | { readonly type: "Updated"; readonly object: A; readonly old: A }
  | { readonly type: "Deleted"; readonly object: A }

interface Numbered<A> {
  readonly sequence: number
  readonly change: InformerChange<A>
}

export interface Informer<A extends KubeObject> {
  readonly type: ResourceType<A>
  /** From the store; `None` when absent (or not synced yet). */
  readonly get: (name: string, namespace?: string) => Effect.Effect<Option.Option<A>>
  /** Every object in the store, optionally of one namespace. */
  readonly list: (namespace?: string) => Effect.Effect<ReadonlyArray<A>>
  /** Completes after the first list reached the store. */
  readonly synced: Effect.Effect<void>
  /**
   * Waits until synced, then registers a handler, as client-go's AddEventHandler: `initial` is every stored object,
   * `changes` each change after them. Each object is in exactly one of the two (a change the store already held when
   * `initial` was taken is not repeated), so a subscriber that came before the first list sees each object once.
   */
  readonly subscribe: Effect.Effect<InformerSubscription<A>, never, Scope.Scope>
}

export interface InformerSubscription<A> {
  /** The store when the subscription was taken; the objects a client-go handler receives as Added before it syncs. */
  readonly initial: ReadonlyArray<A>
  readonly changes: Stream.Stream<InformerChange<A>>
}

export interface InformerOptions<A> extends ListOptions {
  /** Applied to every object before it is stored and published; default: managedFields dropped. */
  readonly transform?: ((object: A) => A) | undefined
  /** Reconnect backoff after a failed list or watch; default 1s doubling to 30s, jittered. */
  readonly reconnect?: Schedule.Schedule<unknown, KubeError> | undefined
  /** Passed to each watch request; tests use a short one to exercise reconnects. */
  readonly watchTimeoutSeconds?: number | undefined
}

export const defaultReconnect: Schedule.Schedule<unknown, KubeError> = Schedule.min([
  Schedule.exponential("1 second"),
  Schedule.spaced("30 seconds"),
]).pipe(Schedule.jittered, Schedule.setInputType<KubeError>())

/** Nobody reads managedFields, and they are often the larger half of an object. */
export const withoutManagedFields = <A extends KubeObject>(object: A): A => {
  if (object.metadata?.managedFields === undefined) return object
  const { managedFields: _, ...metadata } = object.metadata
  return { ...object, metadata }
}

export const make = Effect.fnUntraced(function* <A extends KubeObject>(
  type: ResourceType<A>,
  options: InformerOptions<A> = {},
): Effect.fn.Return<Informer<A>, never, KubeClient | Scope.Scope> {
  const client = yield* KubeClient
  const transform = options.transform ?? withoutManagedFields
  const store = new Map<string, A>()
  // Each change is numbered as it reaches the store, so a subscription can tell which ones its snapshot already holds.
  const pubsub = yield* Effect.acquireRelease(PubSub.unbounded<Numbered<A>>(), PubSub.shutdown)
  const synced = yield* Deferred.make<void>()
  let resourceVersion: string | undefined
  let sequence = 0

  // Numbered when called, in the same synchronous step as the store write before it (no fiber runs in between).
  const publish = (change: InformerChange<A>) => PubSub.publish(pubsub, { sequence: ++sequence, change })

  const relist = Effect.gen(function* () {
    const listed = yield* client.list(type, options)
    const seen = new Set<string>()
    for (const item of listed.items) {
      const object = transform(item)
      const key = keyOf(object)
      seen.add(key)
      const old = store.get(key)
      store.set(key, object)
      if (old === undefined) yield* publish({ type: "Added", object })
      else if (old.metadata?.resourceVersion !== object.metadata?.resourceVersion) {
        yield* publish({ type: "Updated", object, old })
      }
    }
    for (const [key, object] of store) {
      if (seen.has(key)) continue
      store.delete(key)
      yield* publish({ type: "Deleted", object })
    }
    resourceVersion = listed.resourceVersion
    yield* Deferred.succeed(synced, undefined)
    yield* Effect.logDebug("listed", { kind: type.kind, count: listed.items.length })
  })

  const watchOnce = (from: string) =>
    client.watch(type, { ...options, resourceVersion: from, timeoutSeconds: options.watchTimeoutSeconds }).pipe(
      Stream.runForEach((event) =>
        Effect.gen(function* () {
          if (event.type === "BOOKMARK") {
            resourceVersion = event.resourceVersion
            return
          }
          const object = transform(event.object)
          const key = keyOf(object)
          resourceVersion = object.metadata?.resourceVersion ?? resourceVersion
          const old = store.get(key)
          if (event.type === "DELETED") {
            store.delete(key)
            return yield* publish({ type: "Deleted", object })
          }
          store.set(key, object)
          return yield* publish(old === undefined ? { type: "Added", object } : { type: "Updated", object, old })
        }),
      ),
    )

  const cycle = Effect.gen(function* () {
    if (resourceVersion === undefined) yield* relist
    yield* watchOnce(resourceVersion ?? "")
  }).pipe(
    Effect.catchTag("KubeGone", () =>
      Effect.logInfo("watch resourceVersion expired; re-listing", { kind: type.kind }).pipe(
        Effect.andThen(Effect.sync(() => (resourceVersion = undefined))),
      ),
    ),
    Effect.tapError((error) =>
      Effect.logWarning("watch failed; reconnecting", { kind: type.kind, error: error.message }),
    ),
    Effect.retry(options.reconnect ?? defaultReconnect),
  )

  yield* Effect.forkScoped(
    Effect.forever(cycle).pipe(Effect.annotateLogs({ watch: type.plural, namespace: options.namespace ?? "*" })),
  )

  const subscribe = Effect.gen(function* () {
    const subscription = yield* PubSub.subscribe(pubsub)
    yield* Deferred.await(synced)
    // Taken at once: the store holds every change numbered up to `taken`, so those are dropped from the subscription.
    const { initial, taken } = yield* Effect.sync(() => ({ initial: [...store.values()], taken: sequence }))
    const changes = Stream.fromSubscription(subscription).pipe(
      Stream.filter((numbered) => numbered.sequence > taken),
      Stream.map((numbered) => numbered.change),
    )
    return { initial, changes }
  })

  return {
    type,
    get: (name, namespace) =>
      Effect.sync(() => Option.fromUndefinedOr(store.get(namespace ? `${namespace}/${name}` : name))),
    list: (namespace) =>
      Effect.sync(() =>
        [...store.values()].filter((object) => namespace === undefined || object.metadata?.namespace === namespace),
      ),
    synced: Deferred.await(synced),
    subscribe,
  }
})
