// Requests to the API server through Effect's HTTP client (undici underneath), with the
// kubeconfig's credentials: client-node's KubeConfig supplies the headers (a bearer token it may
// refresh) for every request, and the TLS settings of one shared dispatcher. A request that
// outlives its timeout is interrupted, which aborts it on the wire.
import { NodeHttpClient } from "@effect/platform-node"
import { type KubeConfig, RequestContext } from "@kubernetes/client-node"
import { Duration, Effect, Metric, Stream } from "effect"
import { type HttpClient, HttpClientRequest, type HttpClientResponse } from "effect/http"
import type { Dispatcher } from "undici"
import { fromStatus, type KubeError, KubeUnavailable } from "./kubeErrors.ts"

export type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE"

export interface KubeRequest {
  readonly method: Method
  readonly path: string
  readonly query?: Readonly<Record<string, string | undefined>> | undefined
  readonly body?: unknown
  readonly contentType?: string | undefined
}

export interface KubeTransport {
  readonly server: string
  /** One request: the parsed JSON answer, or the typed error for a non-2xx answer or no answer in time. */
  readonly send: (request: KubeRequest) => Effect.Effect<unknown, KubeError>
  /**
   * A streaming GET (a watch): the body's bytes until the server ends it. It fails when the
   * server refuses it, and ends with a KubeUnavailable once `deadline` passes, so a connection
   * that went silent (half-open) cannot hang a watch forever.
   */
  readonly stream: (request: KubeRequest, deadline: Duration.Input) => Stream.Stream<Uint8Array, KubeError>
}

const requestTimeout = Duration.seconds(30)

/** Requests to the API server by method and resource: what a quiet operator must not be making. */
const kubeRequestsTotal = Metric.counter("fly_tunnel_operator_kube_requests_total", {
  description: "Requests to the Kubernetes API server, by method (WATCH for a watch, counted when opened) and resource",
  incremental: true,
})

/** The resource a path names: the segment after the group/version and an optional namespace. */
const resourceOf = (path: string): string => {
  const parts = path.split("/").filter(Boolean)
  const rest = parts[0] === "api" ? parts.slice(2) : parts.slice(3)
  return (rest[0] === "namespaces" && rest.length > 2 ? rest[2] : rest[0]) ?? ""
}

const countRequest = (request: KubeRequest) =>
  Metric.update(
    Metric.withAttributes(kubeRequestsTotal, {
      method: request.query?.watch === "true" ? "WATCH" : request.method,
      resource: resourceOf(request.path),
    }),
    1,
  )

const label = (request: KubeRequest) => `${request.method} ${request.path}`

const parseJson = (text: string): unknown => {
  try {
    return JSON.parse(text)
  } catch {
    return { message: text.slice(0, 200) }
  }
}

const causeMessage = (cause: unknown): string => {
  if (cause instanceof Error) {
    const inner = cause.cause
    return inner instanceof Error ? `${cause.message}: ${inner.message}` : cause.message
  }
  return String(cause)
}

/** What a dispatcher's TLS settings come from: the cluster's CA and the user's client certificate. */
const tlsIdentity = (config: KubeConfig): string => {
  const cluster = config.getCurrentCluster()
  const user = config.getCurrentUser()
  return JSON.stringify([
    cluster?.server,
    cluster?.caData,
    cluster?.caFile,
    cluster?.skipTLSVerify,
    cluster?.tlsServerName,
    cluster?.proxyUrl,
    user?.certData,
    user?.certFile,
    user?.keyData,
    user?.keyFile,
  ])
}

export const makeKubeTransport = (config: KubeConfig): Effect.Effect<KubeTransport, KubeUnavailable> =>
  Effect.gen(function* () {
    const cluster = config.getCurrentCluster()
    if (cluster === null) {
      return yield* new KubeUnavailable({ request: "load kubeconfig", message: "kubeconfig has no current cluster" })
    }
    const server = cluster.server.replace(/\/+$/, "")
    // client-node hands out a new dispatcher (an undici Agent) with every request's credentials; used as given, each
    // request would open and keep its own TLS connection (hundreds, and most of the process's memory, at 200
    // tunnels). One dispatcher per TLS identity is kept instead, so every request shares one HTTP/2 connection.
    let shared: { readonly identity: string; readonly client: HttpClient.HttpClient } | undefined
    const globalClient = yield* NodeHttpClient.makeUndici.pipe(Effect.provide(NodeHttpClient.dispatcherLayerGlobal))
    const clientFor = (dispatcher: Dispatcher | undefined) =>
      Effect.gen(function* () {
        if (dispatcher === undefined) return globalClient
        const identity = tlsIdentity(config)
        if (shared?.identity === identity) {
          // Never connected: closing it releases nothing but the object.
          yield* Effect.promise(() => dispatcher.close())
          return shared.client
        }
        const client = yield* NodeHttpClient.makeUndici.pipe(
          Effect.provideService(NodeHttpClient.Dispatcher, dispatcher),
        )
        shared = { identity, client }
        return client
      })

    const prepare = (request: KubeRequest) =>
      Effect.gen(function* () {
        const url = new URL(server + request.path)
        for (const [key, value] of Object.entries(request.query ?? {})) {
          if (value !== undefined) url.searchParams.set(key, value)
        }
        const context = new RequestContext(url.toString(), request.method)
        yield* Effect.tryPromise(() => config.applySecurityAuthentication(context))
        const client = yield* clientFor(context.getDispatcher())
        const base = HttpClientRequest.make(request.method)(url, {
          headers: { ...context.getHeaders(), accept: "application/json" },
        })
        const withBody =
          request.body === undefined
            ? base
            : HttpClientRequest.bodyText(base, JSON.stringify(request.body), request.contentType ?? "application/json")
        return { client, request: withBody }
      }).pipe(
        Effect.mapError(
          (error) => new KubeUnavailable({ request: label(request), message: causeMessage(error.cause) }),
        ),
      )

    const execute = (request: KubeRequest): Effect.Effect<HttpClientResponse.HttpClientResponse, KubeError> =>
      countRequest(request).pipe(
        Effect.andThen(prepare(request)),
        Effect.flatMap(({ client, request: prepared }) => client.execute(prepared)),
        Effect.mapError((error) =>
          error._tag === "KubeUnavailable"
            ? error
            : new KubeUnavailable({ request: label(request), message: causeMessage(error) }),
        ),
      )

    const send = (request: KubeRequest): Effect.Effect<unknown, KubeError> =>
      Effect.gen(function* () {
        const response = yield* execute(request)
        const text = yield* response.text.pipe(
          Effect.mapError((error) => new KubeUnavailable({ request: label(request), message: causeMessage(error) })),
        )
        const body = parseJson(text)
        if (response.status >= 200 && response.status < 300) return body
        return yield* Effect.fail(fromStatus(label(request), response.status, body))
      }).pipe(
        Effect.timeoutOrElse({
          duration: requestTimeout,
          orElse: () => Effect.fail(new KubeUnavailable({ request: label(request), message: "timed out" })),
        }),
      )

    const stream = (request: KubeRequest, deadline: Duration.Input): Stream.Stream<Uint8Array, KubeError> =>
      Stream.unwrap(
        Effect.gen(function* () {
          const response = yield* execute(request)
          if (response.status !== 200) {
            const text = yield* response.text.pipe(Effect.orElseSucceed(() => ""))
            return yield* Effect.fail(fromStatus(label(request), response.status, parseJson(text)))
          }
          return response.stream.pipe(
            Stream.mapError((error) => new KubeUnavailable({ request: label(request), message: causeMessage(error) })),
          )
        }),
      ).pipe(
        Stream.interruptWhen(
          Effect.sleep(deadline).pipe(
            Effect.andThen(
              Effect.fail(new KubeUnavailable({ request: label(request), message: "no end of the stream in time" })),
            ),
          ),
        ),
      )

    return { server, send, stream } satisfies KubeTransport
  })
