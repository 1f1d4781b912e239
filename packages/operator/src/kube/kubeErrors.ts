// The API server's failures, by what a caller does about them. Messages are the server's own
// `Status.message`, which names objects and fields but never carries request bodies (no secrets).
import { Schema } from "effect"

const Target = {
  /** `METHOD path` of the failed request. */
  request: Schema.String,
  message: Schema.String,
}

/** 404: the object (or its namespace, or the kind) does not exist. */
export class KubeNotFound extends Schema.TaggedError<KubeNotFound>()("KubeNotFound", Target) {}

/** 409: AlreadyExists on create, or a stale resourceVersion / precondition (optimistic concurrency). */
export class KubeConflict extends Schema.TaggedError<KubeConflict>()("KubeConflict", {
  ...Target,
  reason: Schema.String,
}) {}

/** 401 / 403: RBAC or credentials. */
export class KubeForbidden extends Schema.TaggedError<KubeForbidden>()("KubeForbidden", {
  ...Target,
  status: Schema.Number,
}) {}

const FieldCause = Schema.Struct({
  reason: Schema.optional(Schema.String),
  message: Schema.optional(Schema.String),
  field: Schema.optional(Schema.String),
})

/** 400 / 415 / 422: the request or object was refused (schema, CEL, immutable field, bad patch). */
export class KubeInvalid extends Schema.TaggedError<KubeInvalid>()("KubeInvalid", {
  ...Target,
  status: Schema.Number,
  causes: Schema.Array(FieldCause),
}) {}

/** 410: the resourceVersion a list or watch started from is too old; re-list. */
export class KubeGone extends Schema.TaggedError<KubeGone>()("KubeGone", Target) {}

/** Transport failures, timeouts, 429 and 5xx: worth retrying later. */
export class KubeUnavailable extends Schema.TaggedError<KubeUnavailable>()("KubeUnavailable", {
  ...Target,
  status: Schema.optional(Schema.Number),
}) {}

export type KubeError = KubeNotFound | KubeConflict | KubeForbidden | KubeInvalid | KubeGone | KubeUnavailable

const StatusBody = Schema.Struct({
  message: Schema.optional(Schema.String),
  reason: Schema.optional(Schema.String),
  code: Schema.optional(Schema.Number),
  details: Schema.optional(Schema.Struct({ causes: Schema.optional(Schema.Array(FieldCause)) })),
})
type StatusBody = typeof StatusBody.Type

const decodeStatus = (body: unknown): StatusBody =>
  Schema.decodeUnknownOption(StatusBody)(body).pipe((option) => (option._tag === "Some" ? option.value : {}))

/** Maps a non-2xx answer (or a watch ERROR event) to its typed error. */
export const fromStatus = (request: string, status: number, body: unknown): KubeError => {
  const parsed = decodeStatus(body)
  const message = parsed.message ?? `HTTP ${status}`
  switch (true) {
    case status === 404:
      return new KubeNotFound({ request, message })
    case status === 409:
      return new KubeConflict({ request, message, reason: parsed.reason ?? "Conflict" })
    case status === 401 || status === 403:
      return new KubeForbidden({ request, message, status })
    case status === 410:
      return new KubeGone({ request, message })
    case status === 400 || status === 415 || status === 422:
      return new KubeInvalid({ request, message, status, causes: parsed.details?.causes ?? [] })
    default:
      return new KubeUnavailable({ request, message, status })
  }
}
