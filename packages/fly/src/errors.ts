import { Schema } from "effect"
import { Endpoints } from "./endpoint.ts"

/**
 * Every Fly failure the client reports. None carries the token, a request, or headers: only the
 * endpoint, the HTTP status and Fly's own message, so they are safe to log and to put in events.
 */
const EndpointName = Schema.Literals(Endpoints)

/** 401 or 403: the token is missing, invalid, or cannot see this app (apps of other orgs answer 403). */
export class FlyUnauthorized extends Schema.TaggedError<FlyUnauthorized>()("FlyUnauthorized", {
  endpoint: EndpointName,
  status: Schema.Int,
  message: Schema.String,
}) {}

/** 404. On a delete it means the thing is already gone. */
export class FlyNotFound extends Schema.TaggedError<FlyNotFound>()("FlyNotFound", {
  endpoint: EndpointName,
  status: Schema.Int,
  message: Schema.String,
}) {}

/** 422 with `status: "name_taken"`: app names are global across all of Fly, so it may be someone else's. */
export class FlyNameTaken extends Schema.TaggedError<FlyNameTaken>()("FlyNameTaken", {
  endpoint: EndpointName,
  status: Schema.Int,
  message: Schema.String,
}) {}

/** 409 (lease held) or 412 (wrong state, stale `current_version`). */
export class FlyConflict extends Schema.TaggedError<FlyConflict>()("FlyConflict", {
  endpoint: EndpointName,
  status: Schema.Int,
  message: Schema.String,
}) {}

/** 429 after the retries ran out. `retryAfterSeconds` is Fly's `Retry-After`, when it sent one. */
export class FlyRateLimited extends Schema.TaggedError<FlyRateLimited>()("FlyRateLimited", {
  endpoint: EndpointName,
  status: Schema.Int,
  retryAfterSeconds: Schema.optionalKey(Schema.Number),
  message: Schema.String,
}) {}

/** `status: "insufficient_capacity"` (or volume placement): try another region rather than again. */
export class FlyCapacity extends Schema.TaggedError<FlyCapacity>()("FlyCapacity", {
  endpoint: EndpointName,
  status: Schema.Int,
  message: Schema.String,
}) {}

/** 400 or 422 (other than name_taken), or another 4xx: the request is wrong; Fly's message says why. */
export class FlyInvalid extends Schema.TaggedError<FlyInvalid>()("FlyInvalid", {
  endpoint: EndpointName,
  status: Schema.Int,
  message: Schema.String,
}) {}

/**
 * No answer in time: a 408 from Fly (`status` set), the client's own timeout, or a connection lost
 * after the request went out. For a create this is AMBIGUOUS — the resource may exist — so the
 * caller must look (list) before creating again. For `waitMachine`, a 408 means the state was not
 * reached within the wait's timeout.
 */
export class FlyTimeout extends Schema.TaggedError<FlyTimeout>()("FlyTimeout", {
  endpoint: EndpointName,
  status: Schema.optionalKey(Schema.Int),
  reason: Schema.Literals(["server", "client", "responseLost"]),
  message: Schema.String,
}) {}

/** The connection failed, or Fly kept answering 5xx until the retries ran out. */
export class FlyTransport extends Schema.TaggedError<FlyTransport>()("FlyTransport", {
  endpoint: EndpointName,
  status: Schema.optionalKey(Schema.Int),
  message: Schema.String,
}) {}

/** A response did not have the shape we need; `path` names the field (e.g. `config.services.0.protocol`). */
export class FlyDecodeError extends Schema.TaggedError<FlyDecodeError>()("FlyDecodeError", {
  endpoint: EndpointName,
  status: Schema.Int,
  path: Schema.String,
  message: Schema.String,
}) {}

/** Every failure of a Fly call, as one union: callers route by `_tag`. */
export const FlyError = Schema.Union([
  FlyUnauthorized,
  FlyNotFound,
  FlyNameTaken,
  FlyConflict,
  FlyRateLimited,
  FlyCapacity,
  FlyInvalid,
  FlyTimeout,
  FlyTransport,
  FlyDecodeError,
])
export type FlyError = typeof FlyError.Type

/** Whether a failure is a Fly call's (any member of the union), for code that also sees other failures. */
export const isFlyError: (u: unknown) => u is FlyError = Schema.is(FlyError)
