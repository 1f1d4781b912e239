import { Effect, Result, Schema, SchemaIssue } from "effect"
import { API_VERSION, KIND } from "./constants.ts"
import { FlyTunnelSpec } from "./flyTunnelSpec.ts"
import { FlyTunnelStatus } from "./flyTunnelStatus.ts"

/** The part of metav1.ObjectMeta the operator reads. */
export const ObjectMeta = Schema.Struct({
  name: Schema.String,
  namespace: Schema.String,
  uid: Schema.String,
  generation: Schema.optionalKey(Schema.Int),
  resourceVersion: Schema.optionalKey(Schema.String),
  creationTimestamp: Schema.optionalKey(Schema.String),
  deletionTimestamp: Schema.optionalKey(Schema.String),
  labels: Schema.optionalKey(Schema.Record(Schema.String, Schema.String)),
  annotations: Schema.optionalKey(Schema.Record(Schema.String, Schema.String)),
  finalizers: Schema.optionalKey(Schema.Array(Schema.String)),
  ownerReferences: Schema.optionalKey(
    Schema.Array(
      Schema.Struct({
        apiVersion: Schema.String,
        kind: Schema.String,
        name: Schema.String,
        uid: Schema.String,
        controller: Schema.optionalKey(Schema.Boolean),
        blockOwnerDeletion: Schema.optionalKey(Schema.Boolean),
      }),
    ),
  ),
})
export type ObjectMeta = typeof ObjectMeta.Type

/** A FlyTunnel as the API server returns it. */
export const FlyTunnel = Schema.Struct({
  apiVersion: Schema.Literal(API_VERSION),
  kind: Schema.Literal(KIND),
  metadata: ObjectMeta,
  spec: FlyTunnelSpec,
  status: Schema.optionalKey(FlyTunnelStatus),
})
export type FlyTunnel = typeof FlyTunnel.Type

/** Untrusted data that is not a valid FlyTunnel (or spec); `message` names every bad field. */
export class InvalidFlyTunnel extends Schema.TaggedError<InvalidFlyTunnel>()("InvalidFlyTunnel", {
  message: Schema.String,
  issues: Schema.Array(Schema.Struct({ path: Schema.String, message: Schema.String })),
}) {}

const formatPath = (root: string, path: ReadonlyArray<PropertyKey>): string =>
  path.reduce<string>(
    (text, key) => (typeof key === "number" ? `${text}[${key}]` : text === "" ? String(key) : `${text}.${String(key)}`),
    root,
  )

const standardIssues = SchemaIssue.makeFormatterStandardSchemaV1()

const toInvalid = (root: string) => (error: Schema.SchemaError) => {
  const issues = standardIssues(error.issue).issues.map((issue) => ({
    path: formatPath(
      root,
      (issue.path ?? []).map((segment) => (typeof segment === "object" ? segment.key : segment)),
    ),
    message: issue.message,
  }))
  return new InvalidFlyTunnel({
    message: issues.map((issue) => `${issue.path || "<root>"}: ${issue.message}`).join("; "),
    issues,
  })
}

const decodeTunnel = Schema.decodeUnknownEffect(FlyTunnel)
const decodeSpec = Schema.decodeUnknownEffect(FlyTunnelSpec)
const decodeSpecResult = Schema.decodeUnknownResult(FlyTunnelSpec)

/** Decodes a FlyTunnel from the API server (defaults applied), or fails naming every bad field. */
export const decodeFlyTunnel = (input: unknown): Effect.Effect<FlyTunnel, InvalidFlyTunnel> =>
  decodeTunnel(input, { errors: "all" }).pipe(Effect.mapError(toInvalid("")))

/** Decodes a spec (e.g. one built from Service annotations), naming fields as `spec.…`. */
export const decodeFlyTunnelSpec = (input: unknown): Effect.Effect<FlyTunnelSpec, InvalidFlyTunnel> =>
  decodeSpec(input, { errors: "all" }).pipe(Effect.mapError(toInvalid("spec")))

/** `decodeFlyTunnelSpec` without an Effect, for pure code. */
export const decodeFlyTunnelSpecResult = (input: unknown): Result.Result<FlyTunnelSpec, InvalidFlyTunnel> =>
  Result.mapError(decodeSpecResult(input, { errors: "all" }), toInvalid("spec"))
