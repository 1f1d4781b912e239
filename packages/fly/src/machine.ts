import { Schema } from "effect"
import { IncompleteMachineConfig, MachineConfig } from "./machineConfig.ts"

const optional = Schema.optionalKey

/** Every object Fly answers may grow fields; they are kept, not refused. */
const open = <Fields extends Schema.Struct.Fields>(fields: Fields) =>
  Schema.StructWithRest(Schema.Struct(fields), [Schema.Record(Schema.String, Schema.Unknown)])

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

/**
 * `request.exit_event` of an exit event, typed as fly-go decodes it: ints for codes and signals (-1
 * when there was none), booleans for the flags. `exited_at` is left out: Fly has sent it both as epoch
 * milliseconds and as a timestamp string.
 */
export const MachineExitEvent = open({
  exit_code: optional(Schema.Int),
  guest_exit_code: optional(Schema.Int),
  guest_signal: optional(Schema.Int),
  signal: optional(Schema.Int),
  oom_killed: optional(Schema.Boolean),
  requested_stop: optional(Schema.Boolean),
  restarting: optional(Schema.Boolean),
})
export type MachineExitEvent = typeof MachineExitEvent.Type

export const MachineEventRequest = open({
  exit_event: optional(MachineExitEvent),
  restart_count: optional(Schema.Int),
})

export const MachineEvent = Schema.Struct({
  id: optional(Schema.String),
  type: Schema.String,
  status: Schema.String,
  source: optional(Schema.String),
  timestamp: optional(Schema.Number),
  request: optional(MachineEventRequest),
})
export type MachineEvent = typeof MachineEvent.Type

/**
 * Where the Machine's host stands: `ok`, `unknown` or `unreachable` today. Kept a string so a value
 * Fly adds later does not fail a whole list; anything but `ok` means the config is unknown.
 */
export const HostStatus = Schema.String

export const MachineCheckStatus = Schema.Struct({
  name: Schema.String,
  status: Schema.String,
  output: optional(Schema.String),
  updated_at: optional(Schema.String),
})

/**
 * A Machine as Fly answers it. `config` is absent when the host is not `ok` (`host_status`); then
 * `incomplete_config` may hold a partial config. Such a Machine must not be updated from it.
 */
export const Machine = Schema.Struct({
  id: Schema.String,
  name: Schema.String,
  state: Schema.String,
  region: Schema.String,
  instance_id: Schema.String,
  private_ip: optional(Schema.String),
  config: optional(MachineConfig),
  incomplete_config: optional(IncompleteMachineConfig),
  host_status: optional(HostStatus),
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
