import { Schema } from "effect"

export const Region = Schema.Struct({
  code: Schema.String,
  name: Schema.optionalKey(Schema.String),
  deprecated: Schema.optionalKey(Schema.Boolean),
  gateway_available: Schema.optionalKey(Schema.Boolean),
  requires_paid_plan: Schema.optionalKey(Schema.Boolean),
})
export type Region = typeof Region.Type

/** `GET /v1/platform/regions`. */
export const RegionsResponse = Schema.Struct({
  nearest: Schema.optionalKey(Schema.String),
  regions: Schema.Array(Region),
})
export type RegionsResponse = typeof RegionsResponse.Type
