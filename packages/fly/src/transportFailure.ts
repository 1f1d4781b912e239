import { Predicate } from "effect"
import type { Endpoint } from "./endpoint.ts"
import { FlyTimeout, FlyTransport } from "./errors.ts"
import type { RetryMode } from "./retryPolicy.ts"

/** Failures that happen before a request can reach Fly, so nothing can have been applied. */
const notSentCodes = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH"])

const codeOf = (cause: unknown): string | undefined =>
  Predicate.hasProperty(cause, "code") && Predicate.isString(cause.code) ? cause.code : undefined

const causesOf = (cause: unknown): ReadonlyArray<unknown> => [
  ...(Predicate.hasProperty(cause, "cause") ? [cause.cause] : []),
  ...(Predicate.hasProperty(cause, "errors") && Array.isArray(cause.errors) ? cause.errors : []),
  ...(Predicate.hasProperty(cause, "reason") ? [cause.reason] : []),
]

/** The first error code found in the cause chain (Node nests them: a connect that tried several addresses fails with an AggregateError). */
const firstCode = (cause: unknown, depth = 0): string | undefined =>
  depth > 5
    ? undefined
    : (codeOf(cause) ??
      causesOf(cause)
        .map((c) => firstCode(c, depth + 1))
        .find(Boolean))

const neverSent = (cause: unknown, depth = 0): boolean =>
  depth <= 5 && (notSentCodes.has(codeOf(cause) ?? "") || causesOf(cause).some((c) => neverSent(c, depth + 1)))

/**
 * A request that got no HTTP answer. If the connection was never made it is a plain transport
 * error; otherwise the request may have been applied, which for a create is an ambiguous timeout.
 */
export const transportFailure = (endpoint: Endpoint, mode: RetryMode, cause: unknown): FlyTimeout | FlyTransport => {
  const code = firstCode(cause) ?? "connection error"
  if (mode === "create" && !neverSent(cause)) {
    return new FlyTimeout({
      endpoint,
      reason: "responseLost",
      message: `${endpoint}: the connection failed after the request was sent (${code}); it may have been applied`,
    })
  }
  return new FlyTransport({ endpoint, message: `${endpoint}: no response from Fly (${code})` })
}
