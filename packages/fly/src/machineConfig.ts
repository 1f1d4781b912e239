import { Schema, SchemaTransformation } from "effect"

/**
 * Fly rejects partial updates, so a config read from Fly is sent back whole: every object here keeps
 * the fields it does not name (`open`), and only the fields the operator reads or writes are typed.
 */
const open = <Fields extends Schema.Struct.Fields>(fields: Fields) =>
  Schema.StructWithRest(Schema.Struct(fields), [Schema.Record(Schema.String, Schema.Unknown)])

const optional = Schema.optionalKey

/** A Go duration string (`"15s"`) or integer nanoseconds. */
export const GoDuration = Schema.Union([Schema.String, Schema.Number])

const AutostopMode = Schema.Literals(["off", "stop", "suspend"])
export type Autostop = typeof AutostopMode.Type

/** Fly answers `"off"`/`"stop"` as `false`/`true` (backward compatibility) and `"suspend"` as a string. */
export const Autostop = Schema.Union([Schema.Boolean, AutostopMode]).pipe(
  Schema.decodeTo(
    AutostopMode,
    SchemaTransformation.transform<Autostop, boolean | Autostop>({
      decode: (value) => (value === true ? "stop" : value === false ? "off" : value),
      encode: (mode) => mode,
    }),
  ),
)

export const MachineGuest = open({
  cpu_kind: optional(Schema.String),
  cpus: optional(Schema.Int),
  memory_mb: optional(Schema.Int),
})

export const MachineFile = open({
  guest_path: Schema.String,
  raw_value: optional(Schema.String),
  secret_name: optional(Schema.String),
  mode: optional(Schema.Int),
})

export const MachineInit = open({
  exec: optional(Schema.Array(Schema.String)),
  entrypoint: optional(Schema.Array(Schema.String)),
  cmd: optional(Schema.Array(Schema.String)),
  tty: optional(Schema.Boolean),
})

export const MachineRestart = open({
  policy: optional(Schema.Literals(["no", "always", "on-failure", "spot-price"])),
  max_retries: optional(Schema.Int),
})

export const MachineCheck = open({
  type: optional(Schema.String),
  port: optional(Schema.Int),
  interval: optional(GoDuration),
  timeout: optional(GoDuration),
  grace_period: optional(GoDuration),
  kind: optional(Schema.String),
  method: optional(Schema.String),
  path: optional(Schema.String),
})

export const MachinePort = open({
  port: optional(Schema.Int),
  start_port: optional(Schema.Int),
  end_port: optional(Schema.Int),
  handlers: optional(Schema.Array(Schema.String)),
  force_https: optional(Schema.Boolean),
  proxy_proto_options: optional(open({ version: optional(Schema.String) })),
})

export const MachineConcurrency = open({
  type: optional(Schema.Literals(["connections", "requests"])),
  soft_limit: optional(Schema.Int),
  hard_limit: optional(Schema.Int),
})

export const MachineService = open({
  protocol: Schema.Literals(["tcp", "udp"]),
  internal_port: Schema.Int,
  ports: optional(Schema.Array(MachinePort)),
  autostart: optional(Schema.Boolean),
  autostop: optional(Autostop),
  min_machines_running: optional(Schema.Int),
  concurrency: optional(MachineConcurrency),
  checks: optional(Schema.Array(MachineCheck)),
})
export type MachineService = typeof MachineService.Type

export const MachineStopConfig = open({
  signal: optional(Schema.String),
  timeout: optional(GoDuration),
})

const machineConfigFields = {
  guest: optional(MachineGuest),
  env: optional(Schema.Record(Schema.String, Schema.String)),
  files: optional(Schema.Array(MachineFile)),
  init: optional(MachineInit),
  restart: optional(MachineRestart),
  services: optional(Schema.Array(MachineService)),
  checks: optional(Schema.Record(Schema.String, MachineCheck)),
  metadata: optional(Schema.Record(Schema.String, Schema.String)),
  auto_destroy: optional(Schema.Boolean),
  stop_config: optional(MachineStopConfig),
}

/** `fly.MachineConfig`; only `image` is required by Fly. */
export const MachineConfig = open({ image: Schema.String, ...machineConfigFields })
export type MachineConfig = typeof MachineConfig.Type

/**
 * `incomplete_config`: when a Machine's host is not ok, Fly answers without `config` and rebuilds
 * what it can here — a partial config, maybe without an image, never fit to send back as an update.
 */
export const IncompleteMachineConfig = open({ image: optional(Schema.String), ...machineConfigFields })
export type IncompleteMachineConfig = typeof IncompleteMachineConfig.Type
