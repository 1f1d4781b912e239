// Requests to the API server through Effect's HTTP client on Node's own http/https (undici would cost the process
// ~27 MiB of memory), with the endpoint's credentials: one keep-alive agent holds the TLS settings (CA, client
// certificate), and every request carries the bearer token, read again when its file rotates. A request that outlives
// its timeout is interrupted, which aborts it on the wire.
import { NodeHttpClient } from "@effect/platform-node"
import { Duration, Effect, Metric, type Scope, Stream } from "effect"
import { HttpClientRequest, type HttpClientResponse } from "effect/http"
import type { KubeEndpoint } from "./kubeEndpoint.ts"
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

export const makeKubeTransport = (endpoint: KubeEndpoint): Effect.Effect<KubeTransport, never, Scope.Scope> =>
  Effect.gen(function* () {
    const server = endpoint.server
    // One agent for the process: requests reuse its idle connections; watches hold one each while they run.
    const agent = yield* NodeHttpClient.makeAgent({ ...endpoint.tls, keepAlive: true, timeout: 60_000 })
    const client = yield* NodeHttpClient.makeNodeHttp.pipe(Effect.provideService(NodeHttpClient.HttpAgent, agent))

    const prepare = (request: KubeRequest) =>
      Effect.gen(function* () {
        const url = new URL(server + request.path)
        for (const [key, value] of Object.entries(request.query ?? {})) {
          if (value !== undefined) url.searchParams.set(key, value)
        }
        const token = yield* endpoint.token.pipe(
          Effect.mapError((error) => new KubeUnavailable({ request: label(request), message: error.message })),
        )
        const base = HttpClientRequest.make(request.method)(url, {
          headers:
            token === undefined
              ? { accept: "application/json" }
              : { accept: "application/json", authorization: `Bearer ${token}` },
        })
        return request.body === undefined
          ? base
          : HttpClientRequest.bodyText(base, JSON.stringify(request.body), request.contentType ?? "application/json")
      })

    const execute = (request: KubeRequest): Effect.Effect<HttpClientResponse.HttpClientResponse, KubeError> =>
      countRequest(request).pipe(
        Effect.andThen(prepare(request)),
        Effect.flatMap((prepared) =>
          client
            .execute(prepared)
            .pipe(
              Effect.mapError(
                (error) => new KubeUnavailable({ request: label(request), message: causeMessage(error) }),
              ),
            ),
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
