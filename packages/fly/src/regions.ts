import { Schema } from "effect"

/**
 * One region of `GET /v1/platform/regions`. `geo_region` is one of fly-go's `GeoRegion` values
 * (`africa`, `asia_pacific`, `europe`, `north_america`, `south_america`), kept a string so a new
 * one does not fail the list.
 */
export const Region = Schema.Struct({
  code: Schema.String,
  name: Schema.optionalKey(Schema.String),
  deprecated: Schema.optionalKey(Schema.Boolean),
  gateway_available: Schema.optionalKey(Schema.Boolean),
  geo_region: Schema.optionalKey(Schema.String),
  latitude: Schema.optionalKey(Schema.Number),
  longitude: Schema.optionalKey(Schema.Number),
  mpg_available: Schema.optionalKey(Schema.Boolean),
  requires_paid_plan: Schema.optionalKey(Schema.Boolean),
})
export type Region = typeof Region.Type

/** `GET /v1/platform/regions`. */
export const RegionsResponse = Schema.Struct({
  nearest: Schema.optionalKey(Schema.String),
  regions: Schema.Array(Region),
})
export type RegionsResponse = typeof RegionsResponse.Type
