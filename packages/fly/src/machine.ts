import { Schema } from "effect"
import { MachineConfig } from "./machineConfig.ts"

const optional = Schema.optionalKey

/** `POST /v1/apps/{app}/machines`. `min_secrets_version` holds the boot until secrets reach it. */
export const CreateMachineRequest = Schema.Struct({
  name: optional(Schema.String),
  region: optional(Schema.String),
  config: MachineConfig,
  skip_launch: optional(Schema.Boolean),
  min_secrets_version: optional(Schema.Int),
})
export type CreateMachineRequest = typeof CreateMachineRequest.Type

/**
 * `POST /v1/apps/{app}/machines/{id}` with the whole config; `current_version` (the machine's
 * `instance_id` as read) makes Fly refuse the update if someone changed it in between.
 */
export const UpdateMachineRequest = Schema.Struct({
  ...CreateMachineRequest.fields,
  current_version: optional(Schema.String),
})
export type UpdateMachineRequest = typeof UpdateMachineRequest.Type

export const MachineEvent = Schema.Struct({
  type: Schema.String,
  status: Schema.String,
  source: optional(Schema.String),
  timestamp: optional(Schema.Number),
})

export const MachineCheckStatus = Schema.Struct({
  name: Schema.String,
  status: Schema.String,
  output: optional(Schema.String),
  updated_at: optional(Schema.String),
})

export const Machine = Schema.Struct({
  id: Schema.String,
  name: Schema.String,
  state: Schema.String,
  region: Schema.String,
  instance_id: Schema.String,
  private_ip: optional(Schema.String),
  config: MachineConfig,
  created_at: optional(Schema.String),
  updated_at: optional(Schema.String),
  events: optional(Schema.Array(MachineEvent)),
  checks: optional(Schema.Array(MachineCheckStatus)),
})
export type Machine = typeof Machine.Type

/** States a wait can target. */
export const WaitState = Schema.Literals(["started", "stopped", "suspended", "destroyed", "failed", "settled"])
export type WaitState = typeof WaitState.Type

/** 200 body of `GET …/wait`: docs show `{"ok":true}`, the spec adds the reached state and version. */
export const WaitMachineResponse = Schema.Struct({
  ok: optional(Schema.Boolean),
  state: optional(Schema.String),
  version: optional(Schema.String),
  event_id: optional(Schema.String),
})
export type WaitMachineResponse = typeof WaitMachineResponse.Type
