// An API server in memory, behind the KubeClient interface: the fast tier's stand-in for the local control plane
// (MetalLB's fake client, grown up). It keeps what the controllers rely on: resourceVersions and their preconditions,
// uids, generations that move with the spec, finalizers and deletionTimestamp, background garbage collection through
// owner references, watches from a resourceVersion, label selectors, and server-side apply with field ownership per
// manager (a field a manager stops applying is removed unless another manager owns it; `conditions` merge by type).
// A Deployment is "rolled out" by a built-in stand-in for the Deployment controller. Every call is logged, so tests
// count writes instead of looking at end states, and faults can be injected per verb and kind.
import { randomUUID } from "node:crypto"
import { Context, Effect, Layer, PubSub, Stream } from "effect"
import { FieldManager, KubeClient, type ListOptions } from "./kubeClient.ts"
import { KubeConflict, type KubeError, KubeInvalid, KubeNotFound } from "./kubeErrors.ts"
import { fromServer, type KubeObject, Namespace, objectPath, type ResourceType } from "./resourceType.ts"
import type { WatchEvent } from "./watchStream.ts"

export type Verb = "get" | "list" | "create" | "replace" | "delete" | "apply" | "applyStatus" | "mergePatch" | "watch"

export interface KubeCall {
  readonly verb: Verb
  readonly kind: string
  readonly namespace: string | undefined
  readonly name: string | undefined
  readonly fieldManager: string
  /** What a write sent (the object, the applied fields or the patch), as JSON. */
  readonly body?: unknown
}

export interface KubeFault {
  readonly verb?: Verb
  readonly kind?: string
  readonly name?: string
  /** How many calls it fails (default 1). */
  readonly times?: number
  readonly error: KubeError
}

type Json = Record<string, unknown>

interface Stored {
  object: Json
  /**
   * Leaf paths (JSON-encoded) each field manager applied last, for server-side apply's removals; keyed by manager and
   * scope, as the API server keeps one managedFields entry per manager and subresource (an apply to the object never
   * drops what the same manager applied to /status, nor the other way round).
   */
  readonly owned: Map<string, Set<string>>
}

interface LoggedEvent {
  readonly plural: string
  readonly resourceVersion: number
  readonly event: { readonly type: "ADDED" | "MODIFIED" | "DELETED"; readonly object: Json }
}

const isObject = (value: unknown): value is Json => typeof value === "object" && value !== null && !Array.isArray(value)
const clone = <A>(value: A): A => structuredClone(value)
/** A typed object as the JSON the server stores (dates as strings, undefined fields gone), as over the wire. */
const toJson = (object: object): Json => {
  const json: unknown = JSON.parse(JSON.stringify(object))
  return isObject(json) ? json : {}
}
const metaOf = (object: Json): Json => (isObject(object.metadata) ? object.metadata : {})
const listAt = (parent: Json, key: string): Array<unknown> => {
  const existing = parent[key]
  if (Array.isArray(existing)) return existing
  const created: Array<unknown> = []
  parent[key] = created
  return created
}
const keyed = (listKey: string, listValue: string) => (item: unknown) =>
  isObject(item) && String(item[listKey]) === listValue

/** Lists that merge by a key under server-side apply (list-type map); every other list is atomic. */
const LIST_MAP_KEYS: Readonly<Record<string, string>> = { conditions: "type" }
/** Metadata a client never owns through apply. */
const SERVER_METADATA = new Set([
  "name",
  "namespace",
  "uid",
  "resourceVersion",
  "generation",
  "creationTimestamp",
  "deletionTimestamp",
  "managedFields",
  "finalizers",
])

/** A path segment: a field, or an item of a keyed list (`conditions` item whose `type` is `Ready`). */
interface PathSegment {
  readonly key: string
  readonly item?: { readonly key: string; readonly value: string }
}
type Path = ReadonlyArray<PathSegment>

/** Every leaf of an applied body as a path; a keyed list item is one leaf. */
const leaves = (value: unknown, path: Path): Array<Path> => {
  if (!isObject(value) || Object.keys(value).length === 0) return [path]
  return Object.entries(value).flatMap(([key, child]) => {
    const listKey = LIST_MAP_KEYS[key]
    if (listKey !== undefined && Array.isArray(child)) {
      return child
        .filter(isObject)
        .map((item) => [...path, { key, item: { key: listKey, value: String(item[listKey]) } }])
    }
    return leaves(child, [...path, { key }])
  })
}

const readPath = (root: Json, path: Path): unknown => {
  let current: unknown = root
  for (const segment of path) {
    if (!isObject(current)) return undefined
    current = current[segment.key]
    if (segment.item !== undefined) {
      current = Array.isArray(current) ? current.find(keyed(segment.item.key, segment.item.value)) : undefined
    }
  }
  return current
}

const writePath = (root: Json, path: Path, value: unknown) => {
  let current = root
  path.forEach((segment, index) => {
    const last = index === path.length - 1
    if (segment.item !== undefined) {
      const list = listAt(current, segment.key)
      const at = list.findIndex(keyed(segment.item.key, segment.item.value))
      if (last) {
        if (at < 0) list.push(clone(value))
        else list[at] = clone(value)
        return
      }
      const item = list[at]
      if (isObject(item)) {
        current = item
        return
      }
      const created: Json = { [segment.item.key]: segment.item.value }
      list.push(created)
      current = created
      return
    }
    if (last) {
      // An applied empty object claims the field, not what other managers set inside it (as the API server merges).
      if (isObject(value) && Object.keys(value).length === 0 && isObject(current[segment.key])) return
      current[segment.key] = clone(value)
      return
    }
    const child = current[segment.key]
    const next: Json = isObject(child) ? child : {}
    current[segment.key] = next
    current = next
  })
}

const removePath = (root: Json, path: Path) => {
  const parents: Array<[Json, string]> = []
  let current = root
  for (const [index, segment] of path.entries()) {
    const last = index === path.length - 1
    if (segment.item !== undefined) {
      const list = current[segment.key]
      if (!Array.isArray(list)) return
      const at = list.findIndex(keyed(segment.item.key, segment.item.value))
      const item = list[at]
      if (!isObject(item)) return
      if (last) {
        list.splice(at, 1)
        break
      }
      current = item
      continue
    }
    if (last) {
      delete current[segment.key]
      break
    }
    const next = current[segment.key]
    if (!isObject(next)) return
    parents.push([current, segment.key])
    current = next
  }
  // Objects emptied by the removal go too, as the API server prunes them.
  for (const [parent, key] of parents.reverse()) {
    const child = parent[key]
    if (isObject(child) && Object.keys(child).length === 0) delete parent[key]
  }
}

/** RFC 7386. */
const mergePatchInto = (target: unknown, patch: unknown): unknown => {
  if (!isObject(patch)) return clone(patch)
  const result: Json = isObject(target) ? { ...target } : {}
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key]
    else result[key] = mergePatchInto(result[key], value)
  }
  return result
}

const matchesLabels = (object: Json, selector: string | undefined): boolean => {
  if (selector === undefined || selector === "") return true
  const labels = metaOf(object).labels
  return selector.split(",").every((term) => {
    const [key = "", value] = term.split("=")
    return isObject(labels) && labels[key.trim()] === value?.trim()
  })
}

/** The stand-in for the Deployment controller: a Deployment of the current generation is rolled out at once. */
const rollOut = (object: Json): Json => {
  const spec = isObject(object.spec) ? object.spec : {}
  const replicas = typeof spec.replicas === "number" ? spec.replicas : 1
  return {
    ...object,
    status: {
      observedGeneration: metaOf(object).generation,
      replicas,
      updatedReplicas: replicas,
      readyReplicas: replicas,
      availableReplicas: replicas,
    },
  }
}

export interface InMemoryKubeOptions {
  /** Deployments roll out as soon as they are written (default true); false leaves their status to the test. */
  readonly rollOutDeployments?: boolean
}

export class InMemoryKube extends Context.Service<
  InMemoryKube,
  {
    /** The API, as the controllers see it (provided as KubeClient by `layerInMemoryKube`). */
    readonly client: KubeClient["Service"]
    /** Every call so far, oldest first. */
    readonly calls: () => ReadonlyArray<KubeCall>
    /** The objects of a kind as stored (copies). */
    readonly objects: <A extends KubeObject>(type: ResourceType<A>, namespace?: string) => ReadonlyArray<A>
    /** Fails the next matching calls with `fault.error`. */
    readonly inject: (fault: KubeFault) => void
  }
>()("@fly-tunnel-operator/operator/kube/InMemoryKube") {}

export const makeInMemoryKube = (options: InMemoryKubeOptions = {}) =>
  Effect.gen(function* () {
    const rollOutDeployments = options.rollOutDeployments ?? true
    const stores = new Map<string, Map<string, Stored>>()
    const types = new Map<string, ResourceType<KubeObject>>()
    const calls: Array<KubeCall> = []
    const faults: Array<{ fault: KubeFault; left: number }> = []
    const log: Array<LoggedEvent> = []
    const events = yield* PubSub.unbounded<LoggedEvent>()
    let revision = 0

    const storeOf = (type: ResourceType<KubeObject>) => {
      types.set(type.plural, type)
      const existing = stores.get(type.plural)
      if (existing !== undefined) return existing
      const created = new Map<string, Stored>()
      stores.set(type.plural, created)
      return created
    }
    const keyFor = (type: ResourceType<KubeObject>, name: string, namespace: string | undefined) =>
      type.namespaced ? `${namespace ?? ""}/${name}` : name
    const label = (verb: string, type: ResourceType<KubeObject>, name: string, namespace?: string) =>
      `${verb} ${objectPath(type, name, namespace)}`

    const record = (verb: Verb, type: ResourceType<KubeObject>, name?: string, namespace?: string, body?: object) =>
      Effect.gen(function* () {
        const fieldManager = yield* FieldManager
        calls.push({
          verb,
          kind: type.kind,
          namespace,
          name,
          fieldManager,
          ...(body === undefined ? {} : { body: toJson(body) }),
        })
        const index = faults.findIndex(
          ({ fault }) =>
            (fault.verb === undefined || fault.verb === verb) &&
            (fault.kind === undefined || fault.kind === type.kind) &&
            (fault.name === undefined || fault.name === name),
        )
        const found = faults[index]
        if (found === undefined) return fieldManager
        found.left -= 1
        if (found.left <= 0) faults.splice(index, 1)
        return yield* Effect.fail(found.fault.error)
      })

    const emit = (type: ResourceType<KubeObject>, eventType: "ADDED" | "MODIFIED" | "DELETED", object: Json) => {
      const logged: LoggedEvent = {
        plural: type.plural,
        resourceVersion: Number(metaOf(object).resourceVersion),
        event: { type: eventType, object: clone(object) },
      }
      log.push(logged)
      return PubSub.publish(events, logged)
    }

    /** Stores a new version: bumps the resourceVersion (and the generation when the spec changed), emits the event. */
    const commit = (
      type: ResourceType<KubeObject>,
      key: string,
      stored: Stored,
      next: Json,
      eventType: "ADDED" | "MODIFIED",
    ) =>
      Effect.gen(function* () {
        const before = stored.object
        const specChanged = JSON.stringify(before.spec) !== JSON.stringify(next.spec)
        const generation = Number(metaOf(before).generation ?? 0) + (eventType === "ADDED" || specChanged ? 1 : 0)
        revision += 1
        const object: Json = {
          ...next,
          metadata: { ...metaOf(next), resourceVersion: String(revision), generation },
        }
        stored.object = object
        storeOf(type).set(key, stored)
        yield* emit(type, eventType, object)
        const written = clone(object)
        // As the Deployment controller does: the rollout is a later write of its own, so the writer sees its object
        // unrolled and watchers see the rollout as an update.
        const rolled = type.kind === "Deployment" && rollOutDeployments ? rollOut(object) : object
        if (JSON.stringify(rolled.status) !== JSON.stringify(object.status)) {
          revision += 1
          stored.object = { ...rolled, metadata: { ...metaOf(rolled), resourceVersion: String(revision) } }
          yield* emit(type, "MODIFIED", stored.object)
        }
        return written
      })

    const remove = (type: ResourceType<KubeObject>, key: string, stored: Stored): Effect.Effect<void> =>
      Effect.gen(function* () {
        storeOf(type).delete(key)
        revision += 1
        const object = { ...stored.object, metadata: { ...metaOf(stored.object), resourceVersion: String(revision) } }
        yield* emit(type, "DELETED", object)
        // Background garbage collection: dependents of the removed object are deleted in turn.
        const uid = metaOf(stored.object).uid
        for (const [plural, store] of stores) {
          for (const [dependentKey, dependent] of [...store]) {
            const owners = metaOf(dependent.object).ownerReferences
            if (!Array.isArray(owners) || !owners.some((owner) => isObject(owner) && owner.uid === uid)) continue
            const dependentType = types.get(plural)
            if (dependentType !== undefined) yield* markDeleted(dependentType, dependentKey, dependent)
          }
        }
      })

    const markDeleted = (type: ResourceType<KubeObject>, key: string, stored: Stored): Effect.Effect<void> =>
      Effect.gen(function* () {
        const finalizers = metaOf(stored.object).finalizers
        if (Array.isArray(finalizers) && finalizers.length > 0) {
          if (metaOf(stored.object).deletionTimestamp !== undefined) return
          yield* commit(
            type,
            key,
            stored,
            { ...stored.object, metadata: { ...metaOf(stored.object), deletionTimestamp: new Date().toISOString() } },
            "MODIFIED",
          )
          return
        }
        yield* remove(type, key, stored)
      })

    /** After a write: an object being deleted whose last finalizer went is removed. */
    const settle = (type: ResourceType<KubeObject>, key: string, stored: Stored) => {
      const metadata = metaOf(stored.object)
      const finalizers = Array.isArray(metadata.finalizers) ? metadata.finalizers : []
      return metadata.deletionTimestamp !== undefined && finalizers.length === 0
        ? remove(type, key, stored)
        : Effect.void
    }

    const find = (type: ResourceType<KubeObject>, name: string, namespace: string | undefined, verb: string) => {
      const stored = storeOf(type).get(keyFor(type, name, namespace))
      return stored === undefined
        ? Effect.fail(
            new KubeNotFound({
              request: label(verb, type, name, namespace),
              message: `${type.plural} "${name}" not found`,
            }),
          )
        : Effect.succeed(stored)
    }

    const applyTo = (stored: Stored, body: Json, manager: string, scope: "object" | "status") => {
      const applied: Json =
        scope === "status"
          ? { status: body.status ?? {} }
          : Object.fromEntries(
              Object.entries(body).flatMap(([key, value]): Array<[string, unknown]> => {
                if (key === "apiVersion" || key === "kind" || key === "status") return []
                if (key !== "metadata" || !isObject(value)) return [[key, value]]
                const metadata = Object.fromEntries(
                  Object.entries(value).filter(([field]) => !SERVER_METADATA.has(field)),
                )
                return Object.keys(metadata).length === 0 ? [] : [[key, metadata]]
              }),
            )
      const applying = Object.keys(applied).length === 0 ? [] : leaves(applied, [])
      const paths = new Set(applying.map((path) => JSON.stringify(path)))
      const next = clone(stored.object)
      const entry = `${scope}:${manager}`
      const before = stored.owned.get(entry) ?? new Set<string>()
      for (const encoded of before) {
        if (paths.has(encoded)) continue
        const othersOwn = [...stored.owned].some(([other, owned]) => other !== entry && owned.has(encoded))
        if (!othersOwn) removePath(next, JSON.parse(encoded))
      }
      for (const path of applying) writePath(next, path, readPath(applied, path))
      stored.owned.set(entry, paths)
      for (const [other, owned] of stored.owned) if (other !== entry) for (const encoded of paths) owned.delete(encoded)
      return next
    }

    const client: KubeClient["Service"] = {
      get: (type, name, namespace) =>
        Effect.gen(function* () {
          yield* record("get", type, name, namespace)
          const stored = yield* find(type, name, namespace, "GET")
          return fromServer(type, clone(stored.object))
        }),
      list: (type, listOptions?: ListOptions) =>
        Effect.gen(function* () {
          yield* record("list", type, undefined, listOptions?.namespace)
          const items = [...storeOf(type).values()]
            .map((stored) => stored.object)
            .filter(
              (object) => listOptions?.namespace === undefined || metaOf(object).namespace === listOptions.namespace,
            )
            .filter((object) => matchesLabels(object, listOptions?.labelSelector))
            .map((object) => fromServer(type, clone(object)))
          return { items, resourceVersion: String(revision) }
        }),
      create: (type, object) =>
        Effect.gen(function* () {
          const { name = "", namespace } = object.metadata ?? {}
          yield* record("create", type, name, namespace, object)
          const key = keyFor(type, name, namespace)
          if (storeOf(type).has(key)) {
            return yield* new KubeConflict({
              request: label("POST", type, name, namespace),
              message: `${type.plural} "${name}" already exists`,
              reason: "AlreadyExists",
            })
          }
          const body = toJson(object)
          const stored: Stored = { object: {}, owned: new Map() }
          const created = yield* commit(
            type,
            key,
            stored,
            {
              ...body,
              metadata: { ...metaOf(body), uid: randomUUID(), creationTimestamp: new Date().toISOString() },
            },
            "ADDED",
          )
          return fromServer(type, created)
        }),
      replace: (type, object) =>
        Effect.gen(function* () {
          const { name = "", namespace, resourceVersion } = object.metadata ?? {}
          yield* record("replace", type, name, namespace, object)
          const stored = yield* find(type, name, namespace, "PUT")
          if (resourceVersion !== undefined && resourceVersion !== metaOf(stored.object).resourceVersion) {
            return yield* new KubeConflict({
              request: label("PUT", type, name, namespace),
              message: "the object has been modified; please apply your changes to the latest version and try again",
              reason: "Conflict",
            })
          }
          const body = toJson(object)
          const next = {
            ...body,
            metadata: { ...metaOf(body), uid: metaOf(stored.object).uid },
            status: stored.object.status,
          }
          const written = yield* commit(type, keyFor(type, name, namespace), stored, next, "MODIFIED")
          yield* settle(type, keyFor(type, name, namespace), stored)
          return fromServer(type, written)
        }),
      delete: (type, name, namespace, deleteOptions) =>
        Effect.gen(function* () {
          yield* record("delete", type, name, namespace)
          const stored = yield* find(type, name, namespace, "DELETE")
          const preconditions = deleteOptions?.preconditions
          const metadata = metaOf(stored.object)
          if (
            (preconditions?.uid !== undefined && preconditions.uid !== metadata.uid) ||
            (preconditions?.resourceVersion !== undefined && preconditions.resourceVersion !== metadata.resourceVersion)
          ) {
            return yield* new KubeConflict({
              request: label("DELETE", type, name, namespace),
              message: "Precondition failed",
              reason: "Conflict",
            })
          }
          yield* markDeleted(type, keyFor(type, name, namespace), stored)
        }),
      apply: (type, object) =>
        Effect.gen(function* () {
          const { name = "", namespace, uid } = object.metadata ?? {}
          const manager = yield* record("apply", type, name, namespace, object)
          const key = keyFor(type, name, namespace)
          const existing = storeOf(type).get(key)
          if (existing !== undefined && uid !== undefined && uid !== metaOf(existing.object).uid) {
            return yield* new KubeInvalid({
              request: label("PATCH", type, name, namespace),
              message: "metadata.uid: Invalid value: field is immutable",
              status: 422,
              causes: [{ field: "metadata.uid" }],
            })
          }
          if (existing === undefined && uid !== undefined) {
            return yield* new KubeNotFound({ request: label("PATCH", type, name, namespace), message: "not found" })
          }
          const body = toJson(object)
          const stored: Stored = existing ?? {
            object: {
              apiVersion: body.apiVersion,
              kind: body.kind,
              metadata: { name, namespace, uid: randomUUID(), creationTimestamp: new Date().toISOString() },
            },
            owned: new Map(),
          }
          const next = applyTo(stored, body, manager, "object")
          if (existing !== undefined && JSON.stringify(next) === JSON.stringify(existing.object)) {
            return fromServer(type, clone(existing.object))
          }
          return fromServer(type, yield* commit(type, key, stored, next, existing === undefined ? "ADDED" : "MODIFIED"))
        }),
      applyStatus: (type, object) =>
        Effect.gen(function* () {
          const { name = "", namespace, uid } = object.metadata ?? {}
          const manager = yield* record("applyStatus", type, name, namespace, object)
          const stored = yield* find(type, name, namespace, "PATCH")
          if (uid !== undefined && uid !== metaOf(stored.object).uid) {
            return yield* new KubeInvalid({
              request: label("PATCH", type, name, namespace),
              message: "metadata.uid: Invalid value: field is immutable",
              status: 422,
              causes: [{ field: "metadata.uid" }],
            })
          }
          const next = applyTo(stored, toJson(object), manager, "status")
          if (JSON.stringify(next) === JSON.stringify(stored.object)) return fromServer(type, clone(stored.object))
          return fromServer(type, yield* commit(type, keyFor(type, name, namespace), stored, next, "MODIFIED"))
        }),
      mergePatch: (type, name, namespace, patch) =>
        Effect.gen(function* () {
          yield* record("mergePatch", type, name, namespace, patch)
          const stored = yield* find(type, name, namespace, "PATCH")
          const wanted = isObject(patch) && isObject(patch.metadata) ? patch.metadata.resourceVersion : undefined
          if (wanted !== undefined && wanted !== null && wanted !== metaOf(stored.object).resourceVersion) {
            return yield* new KubeConflict({
              request: label("PATCH", type, name, namespace),
              message: "the object has been modified; please apply your changes to the latest version and try again",
              reason: "Conflict",
            })
          }
          const next = mergePatchInto(stored.object, patch)
          if (!isObject(next)) return yield* Effect.die(new Error("a merge patch must be an object"))
          const written = yield* commit(type, keyFor(type, name, namespace), stored, next, "MODIFIED")
          yield* settle(type, keyFor(type, name, namespace), stored)
          return fromServer(type, written)
        }),
      watch: <A extends KubeObject>(
        type: ResourceType<A>,
        watchOptions: { readonly resourceVersion: string } & ListOptions,
      ) =>
        Stream.unwrap(
          Effect.gen(function* () {
            yield* record("watch", type, undefined, watchOptions.namespace)
            const from = Number(watchOptions.resourceVersion || "0")
            const subscription = yield* PubSub.subscribe(events)
            const missed = log.filter((logged) => logged.resourceVersion > from)
            const wanted = (logged: LoggedEvent) =>
              logged.plural === type.plural &&
              (watchOptions.namespace === undefined ||
                metaOf(logged.event.object).namespace === watchOptions.namespace) &&
              matchesLabels(logged.event.object, watchOptions.labelSelector)
            const seen = new Set(missed.map((logged) => logged.resourceVersion))
            return Stream.concat(
              Stream.fromIterable(missed),
              Stream.fromSubscription(subscription).pipe(Stream.filter((logged) => !seen.has(logged.resourceVersion))),
            ).pipe(
              Stream.filter(wanted),
              Stream.map(
                (logged): WatchEvent<A> => ({
                  type: logged.event.type,
                  object: fromServer(type, clone(logged.event.object)),
                }),
              ),
            )
          }),
        ),
    }

    // Every cluster has kube-system; its UID is the cluster's identity (see clusterIdentity.ts).
    yield* commit(
      Namespace,
      "kube-system",
      { object: {}, owned: new Map() },
      { metadata: { name: "kube-system", uid: randomUUID(), creationTimestamp: new Date().toISOString() } },
      "ADDED",
    )

    return InMemoryKube.of({
      client,
      calls: () => [...calls],
      objects: (type, namespace) =>
        [...storeOf(type).values()]
          .map((stored) => fromServer(type, clone(stored.object)))
          .filter((object) => namespace === undefined || object.metadata?.namespace === namespace),
      inject: (fault) => void faults.push({ fault, left: fault.times ?? 1 }),
    })
  })

/** The in-memory API server as the KubeClient, with its control surface (InMemoryKube) for tests. */
export const layerInMemoryKube = (options: InMemoryKubeOptions = {}): Layer.Layer<KubeClient | InMemoryKube> =>
  Layer.effect(
    KubeClient,
    Effect.map(InMemoryKube, (kube) => kube.client),
  ).pipe(Layer.provideMerge(Layer.effect(InMemoryKube, makeInMemoryKube(options))))
