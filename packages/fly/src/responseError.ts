import { Option, Schema } from "effect"
import type { Endpoint } from "./endpoint.ts"
import { ErrorResponse, errorText } from "./errorResponse.ts"
import {
  FlyCapacity,
  FlyConflict,
  type FlyError,
  FlyInvalid,
  FlyNameTaken,
  FlyNotFound,
  FlyRateLimited,
  FlyTimeout,
  FlyTransport,
  FlyUnauthorized,
} from "./errors.ts"

const decodeErrorBody = Schema.decodeUnknownOption(Schema.fromJsonString(ErrorResponse))

/** `Retry-After` in seconds: delta-seconds or an HTTP date (relative to `nowMillis`). */
export const retryAfterSeconds = (header: string | undefined, nowMillis: number): number | undefined => {
  if (header === undefined || header.trim() === "") return undefined
  const seconds = Number(header)
  if (Number.isFinite(seconds)) return Math.max(0, seconds)
  const date = Date.parse(header)
  return Number.isNaN(date) ? undefined : Math.max(0, (date - nowMillis) / 1000)
}

/**
 * The typed error for a non-2xx answer. The HTTP status decides the class; Fly's body only adds
 * its message and the `name_taken` / capacity markers. A body that is not Fly's JSON is not quoted.
 */
export const errorFromResponse = (
  endpoint: Endpoint,
  status: number,
  bodyText: string,
  retryAfter: number | undefined,
): FlyError => {
  const body = Option.getOrElse(decodeErrorBody(bodyText), (): ErrorResponse => ({}))
  const message = `${endpoint}: ${errorText(body) ?? `HTTP ${status}`}`
  const fields = { endpoint, status, message }
  if (body.status === "insufficient_capacity" || body.status === "volume_placement_capacity") {
    return new FlyCapacity(fields)
  }
  if (status === 401 || status === 403) return new FlyUnauthorized(fields)
  if (status === 404) return new FlyNotFound(fields)
  if (status === 408) return new FlyTimeout({ ...fields, reason: "server" })
  if (status === 409 || status === 412) return new FlyConflict(fields)
  if (status === 422 && body.status === "name_taken") return new FlyNameTaken(fields)
  if (status === 429) {
    return new FlyRateLimited(retryAfter === undefined ? fields : { ...fields, retryAfterSeconds: retryAfter })
  }
  if (status >= 500) return new FlyTransport(fields)
  return new FlyInvalid(fields)
}
