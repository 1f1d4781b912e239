import { Effect, Layer } from "effect"
import { HttpClient, HttpClientError, HttpClientResponse } from "effect/http"

export interface RecordedRequest {
  readonly method: string
  readonly url: URL
  readonly headers: Readonly<Record<string, string>>
  readonly body: unknown
}

/** What the fake answers: a status with a JSON body (and headers), or a failed connection. */
export type FakeAnswer =
  | { readonly status: number; readonly body?: unknown; readonly headers?: Record<string, string> }
  | { readonly fail: "refused" | "reset" }
  | { readonly hang: true }

/**
 * An in-memory Fly: answers each request from `answer` (called with the attempt number, 1-based)
 * and records every request it saw, so tests assert on what was sent, not on timing.
 */
export const makeFakeHttp = (answer: (request: RecordedRequest, attempt: number) => FakeAnswer) => {
  const requests: Array<RecordedRequest> = []
  const client = HttpClient.make((request, url) =>
    Effect.gen(function* () {
      const body =
        request.body._tag === "Uint8Array" ? JSON.parse(new TextDecoder().decode(request.body.body)) : undefined
      const recorded: RecordedRequest = { method: request.method, url, headers: { ...request.headers }, body }
      requests.push(recorded)
      const reply = answer(recorded, requests.length)
      if ("hang" in reply) return yield* Effect.never
      if ("fail" in reply) {
        const cause = Object.assign(new Error(reply.fail === "refused" ? "connect ECONNREFUSED" : "socket hang up"), {
          code: reply.fail === "refused" ? "ECONNREFUSED" : "ECONNRESET",
        })
        return yield* Effect.fail(
          new HttpClientError.HttpClientError({ reason: new HttpClientError.TransportError({ request, cause }) }),
        )
      }
      const text = reply.body === undefined ? null : JSON.stringify(reply.body)
      return HttpClientResponse.fromWeb(
        request,
        new Response(text, {
          status: reply.status,
          headers: { "content-type": "application/json", ...reply.headers },
        }),
      )
    }),
  )
  return { requests, layer: Layer.succeed(HttpClient.HttpClient, client) }
}
