// A thin client for the API server, generic over ResourceType. It builds raw requests with
// client-node's KubeConfig (auth, TLS, dispatcher) because the generated clients cannot address
// subresources generically, cannot send apply-patch+yaml without per-call overrides, and
// deserialize list and watch results differently (client-node #655).
import * as k8s from "@kubernetes/client-node"
import { Context, Duration, Effect, Layer, Schema, Stream } from "effect"
import { fetch } from "undici"
import { fromStatus, type KubeError, KubeUnavailable } from "./kubeErrors.ts"
import {
  apiVersion,
  collectionPath,
  type KubeObject,
  keyOf,
  objectPath,
  parseKey,
  type ResourceType,
} from "./resourceType.ts"

export const fieldManager = "fly-tunnel-operator"

export interface ListOptions {
  readonly namespace?: string | undefined
  readonly labelSelector?: string | undefined
  readonly fieldSelector?: string | undefined
}

export interface ListResult<A> {
  readonly items: ReadonlyArray<A>
  /** The collection's resourceVersion: where a watch continues from. */
  readonly resourceVersion: string
}

export interface WatchOptions extends ListOptions {
  readonly resourceVersion: string
  /** Server-side end of the watch; below undici's 300s body timeout so a quiet watch ends cleanly. */
  readonly timeoutSeconds?: number | undefined
}

export type WatchEvent<A> =
  | { readonly type: "ADDED" | "MODIFIED" | "DELETED"; readonly object: A }
  | { readonly type: "BOOKMARK"; readonly resourceVersion: string }

export interface DeleteOptions {
  readonly propagationPolicy?: "Foreground" | "Background" | "Orphan" | undefined
  /** Delete only if the object still has this uid / resourceVersion (else KubeConflict). */
  readonly preconditions?: { readonly uid?: string | undefined; readonly resourceVersion?: string | undefined }
  readonly gracePeriodSeconds?: number | undefined
}

export interface ApplyOptions {
  /** Take fields over from other managers (default true: we apply only objects we own). */
  readonly force?: boolean | undefined
}

type StatusOf<A> = A extends { readonly status?: infer S } ? S : unknown

export class KubeClient extends Context.Service<
  KubeClient,
  {
    readonly get: <A extends KubeObject>(
      type: ResourceType<A>,
      name: string,
      namespace?: string,
    ) => Effect.Effect<A, KubeError>
    readonly list: <A extends KubeObject>(
      type: ResourceType<A>,
      options?: ListOptions,
    ) => Effect.Effect<ListResult<A>, KubeError>
    readonly create: <A extends KubeObject>(type: ResourceType<A>, object: A) => Effect.Effect<A, KubeError>
    /** PUT: fails with KubeConflict when `object.metadata.resourceVersion` is stale. */
    readonly replace: <A extends KubeObject>(type: ResourceType<A>, object: A) => Effect.Effect<A, KubeError>
    readonly delete: (
      type: ResourceType,
      name: string,
      namespace?: string,
      options?: DeleteOptions,
    ) => Effect.Effect<void, KubeError>
    /** Server-side apply as `fly-tunnel-operator`; apiVersion and kind are filled in from `type`. */
    readonly apply: <A extends KubeObject>(
      type: ResourceType<A>,
      object: A,
      options?: ApplyOptions,
    ) => Effect.Effect<A, KubeError>
    /** RFC 7386 merge patch. A `metadata.resourceVersion` in the patch makes it conditional. */
    readonly mergePatch: <A extends KubeObject>(
      type: ResourceType<A>,
      name: string,
      namespace: string | undefined,
      patch: unknown,
    ) => Effect.Effect<A, KubeError>
    /** Merge patch of `{ status }` to the /status subresource. */
    readonly patchStatus: <A extends KubeObject>(
      type: ResourceType<A>,
      name: string,
      namespace: string | undefined,
      status: unknown,
    ) => Effect.Effect<A, KubeError>
    /**
     * Makes `current.status` equal to `status`; writes nothing when they already are (so a
     * converged object costs no write and no watch event). Fields dropped from `status` are removed.
     */
    readonly updateStatus: <A extends KubeObject>(
      type: ResourceType<A>,
      current: A,
      status: StatusOf<A>,
    ) => Effect.Effect<A, KubeError>
    /** Adds a finalizer, conditional on `object`'s resourceVersion (KubeConflict when stale). */
    readonly addFinalizer: <A extends KubeObject>(
      type: ResourceType<A>,
      object: A,
      finalizer: string,
    ) => Effect.Effect<A, KubeError>
    /** Removes a finalizer, conditional on `object`'s resourceVersion (KubeConflict when stale). */
    readonly removeFinalizer: <A extends KubeObject>(
      type: ResourceType<A>,
      object: A,
      finalizer: string,
    ) => Effect.Effect<A, KubeError>
    /** One watch connection from `resourceVersion`; ends when the server closes it. */
    readonly watch: <A extends KubeObject>(
      type: ResourceType<A>,
      options: WatchOptions,
    ) => Stream.Stream<WatchEvent<A>, KubeError>
  }
>()("@fly-tunnel-operator/operator/kube/KubeClient") {
  /** From a kubeconfig file (tests, `--kubeconfig`). */
  static readonly layerFromFile = (path: string): Layer.Layer<KubeClient, KubeUnavailable> =>
    KubeClient.layerFrom((config) => config.loadFromFile(path))

  /** From the Pod's service account. */
  static readonly layerInCluster: Layer.Layer<KubeClient, KubeUnavailable> = KubeClient.layerFrom((config) =>
    config.loadFromCluster(),
  )

  /** $KUBECONFIG, ~/.kube/config, or in-cluster, like kubectl. */
  static readonly layerDefault: Layer.Layer<KubeClient, KubeUnavailable> = KubeClient.layerFrom((config) =>
    config.loadFromDefault(),
  )

  static layerFrom(load: (config: k8s.KubeConfig) => void): Layer.Layer<KubeClient, KubeUnavailable> {
    return Layer.effect(
      KubeClient,
      Effect.try({
        try: () => {
          const config = new k8s.KubeConfig()
          load(config)
          return config
        },
        catch: (cause) => new KubeUnavailable({ request: "load kubeconfig", message: String(cause) }),
      }).pipe(Effect.flatMap((config) => make(config))),
    )
  }
}

const requestTimeout = Duration.seconds(30)

type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE"

interface Request {
  readonly method: Method
  readonly path: string
  readonly query?: Record<string, string | undefined> | undefined
  readonly body?: unknown
  readonly contentType?: string | undefined
}

const sameJson = (a: unknown, b: unknown): boolean => canonicalJson(a) === canonicalJson(b)

const canonicalJson = (value: unknown): string =>
  JSON.stringify(value ?? null, (_, v: unknown) =>
    v !== null && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)))
      : v,
  )

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === "object" && !Array.isArray(value)

/**
 * A merge patch (RFC 7386) that turns `from` into `to` at every depth: keys dropped anywhere become null, nested
 * objects are patched key by key, arrays and scalars are replaced whole.
 */
export const replacingPatch = (from: unknown, to: unknown): unknown => {
  if (!isPlainObject(to)) return to
  const patch: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(to)) {
    patch[key] = isPlainObject(from) && isPlainObject(from[key]) ? replacingPatch(from[key], value) : value
  }
  if (isPlainObject(from)) for (const key of Object.keys(from)) if (!(key in to)) patch[key] = null
  return patch
}

const JsonLine = Schema.fromJsonString(
  Schema.Struct({ type: Schema.String, object: Schema.Record(Schema.String, Schema.Unknown) }),
)

export const make = Effect.fnUntraced(function* (config: k8s.KubeConfig) {
  const cluster = config.getCurrentCluster()
  if (cluster === null) {
    return yield* new KubeUnavailable({ request: "load kubeconfig", message: "kubeconfig has no current cluster" })
  }
  const server = cluster.server

  const open = (request: Request, signal: AbortSignal) =>
    Effect.gen(function* () {
      const url = new URL(server + request.path)
      for (const [key, value] of Object.entries(request.query ?? {})) {
        if (value !== undefined) url.searchParams.set(key, value)
      }
      const context = new k8s.RequestContext(url.toString(), request.method as k8s.HttpMethod)
      yield* Effect.tryPromise(() => config.applySecurityAuthentication(context))
      const headers: Record<string, string> = { ...context.getHeaders(), accept: "application/json" }
      if (request.contentType !== undefined) headers["content-type"] = request.contentType
      const dispatcher = context.getDispatcher()
      return yield* Effect.tryPromise(() =>
        fetch(url, {
          method: request.method,
          headers,
          body: request.body === undefined ? null : JSON.stringify(request.body),
          signal,
          ...(dispatcher === undefined ? {} : { dispatcher }),
        }),
      )
    }).pipe(
      Effect.mapError(
        (error) =>
          new KubeUnavailable({ request: `${request.method} ${request.path}`, message: transportMessage(error.cause) }),
      ),
    )

  const send = (request: Request): Effect.Effect<unknown, KubeError> =>
    Effect.gen(function* () {
      const label = `${request.method} ${request.path}`
      const controller = new AbortController()
      const response = yield* open(request, controller.signal)
      const text = yield* Effect.tryPromise({
        try: () => response.text(),
        catch: (cause) => new KubeUnavailable({ request: label, message: transportMessage(cause) }),
      })
      const body = parseJson(text)
      if (response.status >= 200 && response.status < 300) return body
      return yield* Effect.fail(fromStatus(label, response.status, body))
    }).pipe(
      Effect.timeoutOrElse({
        duration: requestTimeout,
        orElse: () =>
          Effect.fail(new KubeUnavailable({ request: `${request.method} ${request.path}`, message: "timed out" })),
      }),
    )

  const get = Effect.fn("KubeClient.get")(function* (type: ResourceType, name: string, namespace?: string) {
    return (yield* send({ method: "GET", path: objectPath(type, name, namespace) })) as KubeObject
  })

  const list = Effect.fn("KubeClient.list")(function* (type: ResourceType, options?: ListOptions) {
    const items: Array<KubeObject> = []
    let resourceVersion = ""
    let next: string | undefined
    do {
      const page = (yield* send({
        method: "GET",
        path: collectionPath(type, options?.namespace),
        query: {
          labelSelector: options?.labelSelector,
          fieldSelector: options?.fieldSelector,
          limit: "500",
          continue: next,
        },
      })) as { items?: Array<KubeObject>; metadata?: { resourceVersion?: string; continue?: string } }
      // Lists return items without apiVersion/kind; restore them so every object is self-describing.
      for (const item of page.items ?? []) items.push({ apiVersion: apiVersion(type), kind: type.kind, ...item })
      resourceVersion = page.metadata?.resourceVersion ?? resourceVersion
      next = page.metadata?.continue || undefined
    } while (next !== undefined)
    return { items, resourceVersion }
  })

  const create = Effect.fn("KubeClient.create")(function* (type: ResourceType, object: KubeObject) {
    return (yield* send({
      method: "POST",
      path: collectionPath(type, object.metadata?.namespace),
      body: withTypeMeta(type, object),
      contentType: "application/json",
    })) as KubeObject
  })

  const replace = Effect.fn("KubeClient.replace")(function* (type: ResourceType, object: KubeObject) {
    return (yield* send({
      method: "PUT",
      path: objectPath(type, object.metadata?.name ?? "", object.metadata?.namespace),
      body: withTypeMeta(type, object),
      contentType: "application/json",
    })) as KubeObject
  })

  const del = Effect.fn("KubeClient.delete")(function* (
    type: ResourceType,
    name: string,
    namespace?: string,
    options?: DeleteOptions,
  ) {
    yield* send({
      method: "DELETE",
      path: objectPath(type, name, namespace),
      body: {
        apiVersion: "v1",
        kind: "DeleteOptions",
        propagationPolicy: options?.propagationPolicy,
        preconditions: options?.preconditions,
        gracePeriodSeconds: options?.gracePeriodSeconds,
      },
      contentType: "application/json",
    })
  })

  const apply = Effect.fn("KubeClient.apply")(function* (
    type: ResourceType,
    object: KubeObject,
    options?: ApplyOptions,
  ) {
    return (yield* send({
      method: "PATCH",
      path: objectPath(type, object.metadata?.name ?? "", object.metadata?.namespace),
      query: { fieldManager, force: String(options?.force ?? true) },
      // JSON is YAML: the server accepts a JSON body under the apply content type.
      body: withTypeMeta(type, object),
      contentType: "application/apply-patch+yaml",
    })) as KubeObject
  })

  const mergePatch = Effect.fn("KubeClient.mergePatch")(function* (
    type: ResourceType,
    name: string,
    namespace: string | undefined,
    patch: unknown,
  ) {
    return (yield* send({
      method: "PATCH",
      path: objectPath(type, name, namespace),
      query: { fieldManager },
      body: patch,
      contentType: "application/merge-patch+json",
    })) as KubeObject
  })

  const patchStatus = Effect.fn("KubeClient.patchStatus")(function* (
    type: ResourceType,
    name: string,
    namespace: string | undefined,
    status: unknown,
  ) {
    return (yield* send({
      method: "PATCH",
      path: `${objectPath(type, name, namespace)}/status`,
      query: { fieldManager },
      body: { status },
      contentType: "application/merge-patch+json",
    })) as KubeObject
  })

  const updateStatus = Effect.fn("KubeClient.updateStatus")(function* (
    type: ResourceType,
    current: KubeObject,
    status: unknown,
  ) {
    const currentStatus = (current as { status?: unknown }).status
    if (sameJson(currentStatus, status)) return current
    const { name, namespace } = parseKey(keyOf(current))
    return yield* patchStatus(type, name, namespace, replacingPatch(currentStatus, status))
  })

  const setFinalizers = (type: ResourceType, object: KubeObject, finalizers: ReadonlyArray<string>) =>
    mergePatch(type, object.metadata?.name ?? "", object.metadata?.namespace, {
      metadata: { finalizers, resourceVersion: object.metadata?.resourceVersion },
    })

  const addFinalizer = Effect.fn("KubeClient.addFinalizer")(function* (
    type: ResourceType,
    object: KubeObject,
    finalizer: string,
  ) {
    const finalizers = object.metadata?.finalizers ?? []
    if (finalizers.includes(finalizer)) return object
    return yield* setFinalizers(type, object, [...finalizers, finalizer])
  })

  const removeFinalizer = Effect.fn("KubeClient.removeFinalizer")(function* (
    type: ResourceType,
    object: KubeObject,
    finalizer: string,
  ) {
    const finalizers = object.metadata?.finalizers ?? []
    if (!finalizers.includes(finalizer)) return object
    return yield* setFinalizers(
      type,
      object,
      finalizers.filter((f) => f !== finalizer),
    )
  })

  const watch = (type: ResourceType, options: WatchOptions): Stream.Stream<WatchEvent<KubeObject>, KubeError> => {
    const request: Request = {
      method: "GET",
      path: collectionPath(type, options.namespace),
      query: {
        watch: "true",
        resourceVersion: options.resourceVersion,
        allowWatchBookmarks: "true",
        labelSelector: options.labelSelector,
        fieldSelector: options.fieldSelector,
        timeoutSeconds: String(options.timeoutSeconds ?? 240 + Math.floor(Math.random() * 50)),
      },
    }
    const label = `WATCH ${request.path}`
    return Stream.unwrap(
      Effect.gen(function* () {
        const controller = yield* Effect.acquireRelease(
          Effect.sync(() => new AbortController()),
          (controller) => Effect.sync(() => controller.abort()),
        )
        const response = yield* open(request, controller.signal)
        if (response.status !== 200 || response.body === null) {
          const text = yield* Effect.promise(() => response.text().catch(() => ""))
          return yield* Effect.fail(fromStatus(label, response.status, parseJson(text)))
        }
        const body = response.body
        return Stream.fromReadableStream({
          evaluate: () => body,
          onError: (cause) => new KubeUnavailable({ request: label, message: transportMessage(cause) }),
        })
      }),
    ).pipe(
      Stream.decodeText,
      Stream.splitLines,
      Stream.filterMap((line) => Schema.decodeUnknownResult(JsonLine)(line)),
      Stream.mapEffect((event): Effect.Effect<WatchEvent<KubeObject>, KubeError> => {
        switch (event.type) {
          case "ADDED":
          case "MODIFIED":
          case "DELETED":
            return Effect.succeed({
              type: event.type,
              object: { apiVersion: apiVersion(type), kind: type.kind, ...event.object },
            })
          case "BOOKMARK": {
            const metadata = event.object.metadata as { resourceVersion?: string } | undefined
            return Effect.succeed({ type: "BOOKMARK", resourceVersion: metadata?.resourceVersion ?? "" })
          }
          default: {
            const code = typeof event.object.code === "number" ? event.object.code : 500
            return Effect.fail(fromStatus(label, code, event.object))
          }
        }
      }),
    )
  }

  return KubeClient.of({
    get: get as KubeClient["Service"]["get"],
    list: list as KubeClient["Service"]["list"],
    create: create as KubeClient["Service"]["create"],
    replace: replace as KubeClient["Service"]["replace"],
    delete: del,
    apply: apply as KubeClient["Service"]["apply"],
    mergePatch: mergePatch as KubeClient["Service"]["mergePatch"],
    patchStatus: patchStatus as KubeClient["Service"]["patchStatus"],
    updateStatus: updateStatus as KubeClient["Service"]["updateStatus"],
    addFinalizer: addFinalizer as KubeClient["Service"]["addFinalizer"],
    removeFinalizer: removeFinalizer as KubeClient["Service"]["removeFinalizer"],
    watch: watch as KubeClient["Service"]["watch"],
  })
})

const withTypeMeta = (type: ResourceType, object: KubeObject): KubeObject => ({
  ...object,
  apiVersion: apiVersion(type),
  kind: type.kind,
})

const parseJson = (text: string): unknown => {
  try {
    return JSON.parse(text)
  } catch {
    return { message: text.slice(0, 200) }
  }
}

const transportMessage = (cause: unknown): string => {
  if (cause instanceof Error) {
    const inner = (cause as { cause?: unknown }).cause
    return inner instanceof Error ? `${cause.message}: ${inner.message}` : cause.message
  }
  return String(cause)
}
