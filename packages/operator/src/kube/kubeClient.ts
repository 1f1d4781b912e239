// The operator's client for the API server, generic over ResourceType. Writes carry the field
// manager of the controller that makes them (the FieldManager reference), so each controller owns
// exactly the fields it applies. A live layer (kubeconfig) and an in-memory one (inMemoryKube.ts).
import { Context, Effect, Layer, Option, Schema, type Stream } from "effect"
import type { KubeconfigError } from "./kubeconfigError.ts"
import type { KubeEndpoint } from "./kubeEndpoint.ts"
import { loadDefaultEndpoint, loadKubeconfigFile } from "./kubeEndpointLoader.ts"
import { type KubeError, KubeUnavailable } from "./kubeErrors.ts"
import { makeKubeTransport } from "./kubeTransport.ts"
import { finalizersPatch, withTypeMeta } from "./patches.ts"
import { collectionPath, fromServer, type KubeObject, objectPath, type ResourceType } from "./resourceType.ts"
import { type WatchEvent, watchEvents } from "./watchStream.ts"
import { WriteGate } from "./writeGate.ts"

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
  /** When the server ends the watch; the informer then resumes from the last resourceVersion. */
  readonly timeoutSeconds?: number | undefined
}

export interface DeleteOptions {
  readonly propagationPolicy?: "Foreground" | "Background" | "Orphan" | undefined
  /** Delete only if the object still has this uid / resourceVersion (else KubeConflict). */
  readonly preconditions?: { readonly uid?: string | undefined; readonly resourceVersion?: string | undefined }
  readonly gracePeriodSeconds?: number | undefined
}

/** The field manager of the writes made in this fiber; each controller sets its own (patches.ts). */
export const FieldManager = Context.Reference<string>("@fly-tunnel-operator/operator/kube/FieldManager", {
  defaultValue: () => "fly-tunnel-operator",
})

/** One page of a list: items without type meta, and where the next page and the watch start. */
const ListPage = Schema.Struct({
  items: Schema.optionalKey(Schema.NullOr(Schema.Array(Schema.Record(Schema.String, Schema.Unknown)))),
  metadata: Schema.optionalKey(
    Schema.Struct({
      resourceVersion: Schema.optionalKey(Schema.String),
      continue: Schema.optionalKey(Schema.String),
    }),
  ),
})
const decodeListPage = Schema.decodeUnknownEffect(ListPage)

const make = Effect.fnUntraced(function* (endpoint: KubeEndpoint) {
  const transport = yield* makeKubeTransport(endpoint)
  const asObject = <A extends KubeObject>(type: ResourceType<A>) =>
    Effect.map((json: unknown) => fromServer(type, typeof json === "object" && json !== null ? json : {}))
  const write = <A extends KubeObject>(
    type: ResourceType<A>,
    method: "POST" | "PUT" | "PATCH",
    path: string,
    body: object,
    contentType: string,
    query: Record<string, string> = {},
  ) =>
    Effect.gen(function* () {
      const gate = yield* WriteGate
      yield* gate
      const fieldManager = yield* FieldManager
      return yield* transport.send({ method, path, query: { fieldManager, ...query }, body, contentType })
    }).pipe(asObject(type))

  const list = Effect.fn("KubeClient.list")(function* <A extends KubeObject>(
    type: ResourceType<A>,
    options?: ListOptions,
  ) {
    const items: Array<A> = []
    let resourceVersion = ""
    let next: string | undefined
    do {
      const path = collectionPath(type, options?.namespace)
      const page = yield* transport
        .send({
          method: "GET",
          path,
          query: {
            labelSelector: options?.labelSelector,
            fieldSelector: options?.fieldSelector,
            limit: "500",
            continue: next,
          },
        })
        .pipe(
          Effect.flatMap(decodeListPage),
          Effect.catchTag("SchemaError", (error) =>
            Effect.fail(new KubeUnavailable({ request: `GET ${path}`, message: error.message })),
          ),
        )
      const metadata = page.metadata ?? {}
      for (const item of page.items ?? []) items.push(fromServer(type, item))
      resourceVersion = metadata.resourceVersion ?? resourceVersion
      next = metadata.continue || undefined
    } while (next !== undefined)
    return { items, resourceVersion }
  })

  return KubeClient.of({
    get: (type, name, namespace) =>
      transport
        .send({ method: "GET", path: objectPath(type, name, namespace) })
        .pipe(asObject(type), Effect.withSpan("KubeClient.get")),
    list,
    create: (type, object) =>
      write(
        type,
        "POST",
        collectionPath(type, object.metadata?.namespace),
        withTypeMeta(type, object),
        "application/json",
      ).pipe(Effect.withSpan("KubeClient.create")),
    replace: (type, object) =>
      write(
        type,
        "PUT",
        objectPath(type, object.metadata?.name ?? "", object.metadata?.namespace),
        withTypeMeta(type, object),
        "application/json",
      ).pipe(Effect.withSpan("KubeClient.replace")),
    delete: (type, name, namespace, options) =>
      Effect.gen(function* () {
        const gate = yield* WriteGate
        yield* gate
        yield* transport.send({
          method: "DELETE",
          path: objectPath(type, name, namespace),
          body: { apiVersion: "v1", kind: "DeleteOptions", ...options },
          contentType: "application/json",
        })
      }).pipe(Effect.withSpan("KubeClient.delete")),
    apply: (type, object) =>
      // JSON is YAML: the server takes a JSON body under the apply content type.
      write(
        type,
        "PATCH",
        objectPath(type, object.metadata?.name ?? "", object.metadata?.namespace),
        withTypeMeta(type, object),
        "application/apply-patch+yaml",
        { force: "true" },
      ).pipe(Effect.withSpan("KubeClient.apply")),
    applyStatus: (type, object) =>
      write(
        type,
        "PATCH",
        `${objectPath(type, object.metadata?.name ?? "", object.metadata?.namespace)}/status`,
        withTypeMeta(type, object),
        "application/apply-patch+yaml",
        { force: "true" },
      ).pipe(Effect.withSpan("KubeClient.applyStatus")),
    mergePatch: (type, name, namespace, patch) =>
      write(type, "PATCH", objectPath(type, name, namespace), patch, "application/merge-patch+json").pipe(
        Effect.withSpan("KubeClient.mergePatch"),
      ),
    watch: (type, options) => {
      const request = {
        method: "GET" as const,
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
      const deadlineSeconds = Number(request.query.timeoutSeconds) + 30
      return transport.stream(request, `${deadlineSeconds} seconds`).pipe(watchEvents(type, `WATCH ${request.path}`))
    },
  })
})

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
    readonly delete: <A extends KubeObject>(
      type: ResourceType<A>,
      name: string,
      namespace?: string,
      options?: DeleteOptions,
    ) => Effect.Effect<void, KubeError>
    /**
     * Server-side apply (forced) of the fields in `object`; fields this manager applied before
     * and no longer applies are removed. A `metadata.uid` makes it fail rather than recreate a
     * deleted object.
     */
    readonly apply: <A extends KubeObject>(type: ResourceType<A>, object: A) => Effect.Effect<A, KubeError>
    /** Server-side apply to the /status subresource: `object` holds name, namespace and the status fields owned. */
    readonly applyStatus: <A extends KubeObject>(type: ResourceType<A>, object: A) => Effect.Effect<A, KubeError>
    /** RFC 7386 merge patch. A `metadata.resourceVersion` in the patch makes it conditional. */
    readonly mergePatch: <A extends KubeObject>(
      type: ResourceType<A>,
      name: string,
      namespace: string | undefined,
      patch: object,
    ) => Effect.Effect<A, KubeError>
    /** One watch connection from `resourceVersion`; ends when the server closes it. */
    readonly watch: <A extends KubeObject>(
      type: ResourceType<A>,
      options: WatchOptions,
    ) => Stream.Stream<WatchEvent<A>, KubeError>
  }
>()("@fly-tunnel-operator/operator/kube/KubeClient") {
  /** From a kubeconfig file's current context (tests, `--kubeconfig`). */
  static readonly layerFromFile = (path: string): Layer.Layer<KubeClient, KubeconfigError> =>
    KubeClient.layerFrom(loadKubeconfigFile(path))

  /** $KUBECONFIG, ~/.kube/config, or the Pod's service account, like kubectl. */
  static readonly layerDefault: Layer.Layer<KubeClient, KubeconfigError> = KubeClient.layerFrom(loadDefaultEndpoint())

  static layerFrom<E>(endpoint: Effect.Effect<KubeEndpoint, E>): Layer.Layer<KubeClient, E> {
    return Layer.effect(KubeClient, Effect.flatMap(endpoint, make))
  }
}

/** The object as the API server has it now, not as the cache last saw it; none once it is gone. */
export const readFresh = <A extends KubeObject>(type: ResourceType<A>, name: string, namespace?: string) =>
  KubeClient.use((kube) =>
    kube.get(type, name, namespace).pipe(
      Effect.map(Option.some),
      Effect.catchTag("KubeNotFound", () => Effect.succeedNone),
    ),
  )

/** Adds a finalizer unless present, conditional on `object`'s resourceVersion (KubeConflict when stale). */
export const addFinalizer = <A extends KubeObject>(type: ResourceType<A>, object: A, finalizer: string) =>
  KubeClient.use((kube) => {
    const finalizers = object.metadata?.finalizers ?? []
    if (finalizers.includes(finalizer)) return Effect.succeed(object)
    const { name = "", namespace } = object.metadata ?? {}
    return kube.mergePatch(type, name, namespace, finalizersPatch(object, [...finalizers, finalizer]))
  })

/** Removes a finalizer if present, conditional on `object`'s resourceVersion (KubeConflict when stale). */
export const removeFinalizer = <A extends KubeObject>(type: ResourceType<A>, object: A, finalizer: string) =>
  KubeClient.use((kube) => {
    const finalizers = object.metadata?.finalizers ?? []
    if (!finalizers.includes(finalizer)) return Effect.succeed(object)
    const { name = "", namespace } = object.metadata ?? {}
    return kube.mergePatch(
      type,
      name,
      namespace,
      finalizersPatch(
        object,
        finalizers.filter((f) => f !== finalizer),
      ),
    )
  })
