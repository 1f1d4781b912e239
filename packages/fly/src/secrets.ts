import { Schema } from "effect"

/** `POST /v1/apps/{app}/secrets`: a `null` value unsets that secret. */
export const SetSecretsRequest = Schema.Struct({
  values: Schema.Record(Schema.String, Schema.NullOr(Schema.String)),
})
export type SetSecretsRequest = typeof SetSecretsRequest.Type

export const AppSecret = Schema.Struct({
  name: Schema.String,
  digest: Schema.optionalKey(Schema.String),
  created_at: Schema.optionalKey(Schema.String),
  updated_at: Schema.optionalKey(Schema.String),
})

export type AppSecret = typeof AppSecret.Type

/** `GET /v1/apps/{app}/secrets`: names and digests; values only with `show_secrets`, which this client never asks. */
export const ListSecretsResponse = Schema.Struct({ secrets: Schema.Array(AppSecret) })

/** `version` feeds a machine's `min_secrets_version` so it boots only with these values. */
export const SetSecretsResponse = Schema.Struct({
  version: Schema.Int,
  secrets: Schema.optionalKey(Schema.Array(AppSecret)),
})
export type SetSecretsResponse = typeof SetSecretsResponse.Type
