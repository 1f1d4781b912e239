import { Schema } from "effect"

/** `POST /v1/apps`. `idempotency_key` makes a repeated create return the first create's app. */
export const CreateAppRequest = Schema.Struct({
  name: Schema.String,
  org_slug: Schema.String,
  network: Schema.optionalKey(Schema.String),
  idempotency_key: Schema.optionalKey(Schema.String),
})
export type CreateAppRequest = typeof CreateAppRequest.Type

/** 201 body of `POST /v1/apps`; `created_at` is epoch milliseconds. */
export const CreateAppResponse = Schema.Struct({
  id: Schema.String,
  created_at: Schema.optionalKey(Schema.Number),
})
export type CreateAppResponse = typeof CreateAppResponse.Type

export const AppOrganization = Schema.Struct({
  name: Schema.optionalKey(Schema.String),
  slug: Schema.String,
})

/**
 * `GET /v1/apps/{app}`, and `POST /v1/apps?wait=true`. A new app is `"pending"`; `"deployed"` and
 * `"suspended"` mean it has run.
 */
export const App = Schema.Struct({
  id: Schema.String,
  name: Schema.String,
  status: Schema.optionalKey(Schema.String),
  network: Schema.optionalKey(Schema.String),
  internal_numeric_id: Schema.optionalKey(Schema.Number),
  machine_count: Schema.optionalKey(Schema.Int),
  volume_count: Schema.optionalKey(Schema.Int),
  organization: Schema.optionalKey(AppOrganization),
})
export type App = typeof App.Type

/** One App in `GET /v1/apps?org_slug=…`: the list carries no status or organization. */
export const AppSummary = Schema.Struct({
  id: Schema.String,
  name: Schema.String,
  network: Schema.optionalKey(Schema.String),
  machine_count: Schema.optionalKey(Schema.Int),
})
export type AppSummary = typeof AppSummary.Type

export const ListAppsResponse = Schema.Struct({
  total_apps: Schema.optionalKey(Schema.Int),
  apps: Schema.Array(AppSummary),
})
