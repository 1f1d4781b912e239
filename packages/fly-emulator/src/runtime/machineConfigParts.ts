import { Schema } from "effect"

/** The parts of a machine config the runtime acts on (the Machines API's machine config); the rest is ignored. */
export const MachineFile = Schema.Struct({
  guest_path: Schema.String,
  raw_value: Schema.optionalKey(Schema.String),
  secret_name: Schema.optionalKey(Schema.String),
  mode: Schema.optionalKey(Schema.Number),
})
export type MachineFile = typeof MachineFile.Type

export const MachineInit = Schema.Struct({
  exec: Schema.optionalKey(Schema.Array(Schema.String)),
  entrypoint: Schema.optionalKey(Schema.Array(Schema.String)),
  cmd: Schema.optionalKey(Schema.Array(Schema.String)),
})
export type MachineInit = typeof MachineInit.Type

export const RuntimeConfig = Schema.Struct({
  files: Schema.optionalKey(Schema.Array(MachineFile)),
  init: Schema.optionalKey(MachineInit),
  stop_config: Schema.optionalKey(
    Schema.Struct({
      signal: Schema.optionalKey(Schema.String),
      timeout: Schema.optionalKey(Schema.Union([Schema.String, Schema.Number])),
    }),
  ),
})
export type RuntimeConfig = typeof RuntimeConfig.Type
