import { Result, Schema } from "effect"
import type { ApiContext, ApiRequest } from "./apiContext.ts"
import { appNotFound } from "./appsApi.ts"
import { machineId, machineName, privateIpv6, ulid } from "./identifiers.ts"
import { acquireLease, findLease, grantLease, leaseField, leaseRefusal, releaseLease } from "./leasesApi.ts"
import type { CheckStatus } from "./machineChecks.ts"
import { imageRef, storedConfig, validateMachineConfig } from "./machineConfig.ts"
import { failure, ok, type Reply } from "./reply.ts"
import { decodeBody } from "./requestBody.ts"
import { goDurationMs, queryDurationMs } from "./runtime/goDuration.ts"
import type { HostStatus, MachineEvent, MachineRecord, MachineState } from "./store.ts"

const MachineRequest = Schema.Struct({
  name: Schema.optionalKey(Schema.String),
  region: Schema.optionalKey(Schema.String),
  config: Schema.Record(Schema.String, Schema.Unknown),
  skip_launch: Schema.optionalKey(Schema.Boolean),
  skip_service_registration: Schema.optionalKey(Schema.Boolean),
  current_version: Schema.optionalKey(Schema.String),
  lease_ttl: Schema.optionalKey(Schema.Number),
})

const StopRequest = Schema.Struct({
  signal: Schema.optionalKey(Schema.String),
  timeout: Schema.optionalKey(Schema.Union([Schema.String, Schema.Number])),
})

const stopSignals = [
  "SIGABRT",
  "SIGALRM",
  "SIGFPE",
  "SIGHUP",
  "SIGILL",
  "SIGINT",
  "SIGKILL",
  "SIGPIPE",
  "SIGQUIT",
].concat(["SIGSEGV", "SIGTERM", "SIGTRAP", "SIGUSR1", "SIGUSR2"])

const machineNotFound = (): Reply => failure(404, "machine not found")

const isoSeconds = (at: Date = new Date()): string => at.toISOString().replace(/\.\d+Z$/, "Z")

/** A Machine as the API answers it; the optional parts depend on the host status and the query. */
export interface MachineJson {
  readonly id: string
  readonly name: string
  readonly state: MachineState
  readonly region: string
  readonly instance_id: string
  readonly private_ip: string
  readonly config?: Readonly<Record<string, unknown>>
  readonly incomplete_config?: Readonly<Record<string, unknown>>
  readonly image_ref?: ReturnType<typeof imageRef>
  readonly events?: ReadonlyArray<MachineEvent>
  readonly checks?: ReadonlyArray<CheckStatus>
  readonly lease?: { readonly description: string; readonly expires_at: number; readonly owner: string }
  readonly created_at: string
  readonly updated_at: string
  readonly host_status: HostStatus
  readonly cordoned: boolean
}

export interface MachineJsonOptions {
  /** `summary=true` on a list: no config, events or checks. */
  readonly summary?: boolean
  /** `include_leases=true`: the lease in force, if any. */
  readonly includeLease?: boolean
  /** The emulator's own view (/_emulator/state): the config even when the host is not ok. */
  readonly complete?: boolean
}

/**
 * A Machine as the API answers it (the Machines API's Machine object). On a host that is not `ok`, Fly's API cannot read
 * the config from the host: `config` is left out and `incomplete_config` carries what the API keeps
 * itself (fly-go: "rebuilt from multiple sources to form a partial configuration"). Which parts Fly
 * rebuilds is not documented; the emulator keeps only the metadata — the part the API demonstrably
 * holds, since its list filter matches on it — so clients must cope with a config that has no image.
 */
export const machineJson = (
  context: ApiContext,
  machine: MachineRecord,
  options: MachineJsonOptions = {},
): MachineJson => {
  const hostOk = machine.hostStatus === "ok" || options.complete === true
  const metadata = machine.config.metadata as Record<string, string> | undefined
  return {
    id: machine.id,
    name: machine.name,
    state: machine.state,
    region: machine.region,
    instance_id: machine.instanceId,
    private_ip: machine.privateIp,
    ...(options.summary
      ? {}
      : {
          ...(hostOk ? { config: machine.config } : { incomplete_config: metadata === undefined ? {} : { metadata } }),
          image_ref: imageRef(String(machine.config.image)),
          events: machine.events,
          checks: context.checks(machine),
        }),
    ...(options.includeLease ? leaseField(machine) : {}),
    created_at: machine.createdAt,
    updated_at: machine.updatedAt,
    host_status: machine.hostStatus,
    cordoned: machine.skipServiceRegistration,
  }
}

/** The machine a path names, when its app exists and it is not (long) destroyed. */
const lookup = (
  context: ApiContext,
  request: ApiRequest,
  options: { destroyedVisible: boolean },
): Result.Result<MachineRecord, Reply> => {
  const app = request.params.app ?? ""
  if (!context.store.apps.has(app)) return Result.fail(appNotFound())
  const machine = context.store.machines.get(request.params.id ?? "")
  if (!machine || machine.app !== app || context.lifecycle.isGone(machine)) return Result.fail(machineNotFound())
  if (!options.destroyedVisible && machine.state === "destroyed") return Result.fail(machineNotFound())
  return Result.succeed(machine)
}

/**
 * `GET …/machines`. The `metadata.*` filter matches on the metadata the Machine was created or last
 * updated with, whatever its host status: Fly's API answers lists from its own records (it reports
 * Machines on unreachable hosts at all), so a Machine does not drop out of its owner's filtered list
 * because its host cannot be reached.
 */
export const listMachines = (context: ApiContext, request: ApiRequest): Reply => {
  const app = request.params.app ?? ""
  if (!context.store.apps.has(app)) return appNotFound()
  const includeDeleted = request.query.get("include_deleted") === "true"
  const states = request.query.getAll("state").flatMap((value) => value.split(",").filter(Boolean))
  const region = request.query.get("region")
  const metadata = [...request.query.entries()]
    .filter(([key]) => key.startsWith("metadata."))
    .map(([key, value]) => [key.slice("metadata.".length), value] as const)
  const summary = request.query.get("summary") === "true"
  const includeLease = request.query.get("include_leases") === "true"
  const machines = context.store
    .machinesOf(app)
    .filter((machine) => includeDeleted || machine.state !== "destroyed")
    .filter((machine) => states.length === 0 || states.includes(machine.state))
    .filter((machine) => !region || machine.region === region)
    .filter((machine) => {
      const own = (machine.config.metadata ?? {}) as Record<string, string>
      return metadata.every(([key, value]) => own[key] === value)
    })
  return ok(machines.map((machine) => machineJson(context, machine, { summary, includeLease })))
}

export const getMachine = (context: ApiContext, request: ApiRequest): Reply => {
  const found = lookup(context, request, { destroyedVisible: true })
  const includeLease = request.query.get("include_leases") === "true"
  return Result.isFailure(found) ? found.failure : ok(machineJson(context, found.success, { includeLease }))
}

export const createMachine = (context: ApiContext, request: ApiRequest): Reply => {
  const app = context.store.apps.get(request.params.app ?? "")
  if (!app) return appNotFound()
  const decoded = decodeBody(MachineRequest, request.body)
  if (Result.isFailure(decoded)) return decoded.failure
  const body = decoded.success
  const region = body.region || (context.regions.includes("iad") ? "iad" : (context.regions[0] ?? "iad"))
  if (!context.regions.includes(region)) return failure(422, `region ${region} not found`)
  const config = validateMachineConfig(body.config)
  if (Result.isFailure(config)) return failure(400, config.failure)
  if (body.lease_ttl !== undefined && !(Number.isInteger(body.lease_ttl) && body.lease_ttl > 0))
    return failure(400, "lease_ttl must be a whole number of seconds above 0")
  const live = context.store.machinesOf(app.name).filter((machine) => machine.state !== "destroyed")
  if (body.name !== undefined && live.some((machine) => machine.name === body.name))
    return failure(422, `a machine named ${body.name} already exists in this app`)
  const now = isoSeconds()
  const machine: MachineRecord = {
    id: machineId(),
    app: app.name,
    name: body.name || machineName(),
    region,
    privateIp: privateIpv6(app.networkIndex, context.store.next()),
    createdAt: now,
    updatedAt: now,
    state: "created",
    instanceId: ulid(),
    config: storedConfig(body.config),
    events: [],
    generation: 0,
    restarts: 0,
    running: false,
    skipServiceRegistration: body.skip_service_registration === true,
    hostStatus: "ok",
  }
  const lease = body.lease_ttl === undefined ? undefined : grantLease(machine, body.lease_ttl)
  context.lifecycle.launch(machine, body.skip_launch === true)
  return ok({ ...machineJson(context, machine), ...(lease ? { nonce: lease.nonce } : {}) })
}

export const updateMachine = (context: ApiContext, request: ApiRequest): Reply => {
  const found = lookup(context, request, { destroyedVisible: false })
  if (Result.isFailure(found)) return found.failure
  const machine = found.success
  const leased = leaseRefusal(machine, request)
  if (leased) return leased
  const decoded = decodeBody(MachineRequest, request.body)
  if (Result.isFailure(decoded)) return decoded.failure
  const body = decoded.success
  if (body.region && body.region !== machine.region) return failure(400, "region cannot be changed on update")
  if (body.name && body.name !== machine.name) return failure(400, "name cannot be changed on update")
  if (body.current_version !== undefined && body.current_version !== machine.instanceId)
    return failure(412, `machine version mismatch: current version is ${machine.instanceId}`)
  const config = validateMachineConfig(body.config)
  if (Result.isFailure(config)) return failure(400, config.failure)
  const outcome = context.lifecycle.update(machine, storedConfig(body.config), body.skip_launch === true)
  if (outcome) return failure(412, outcome.refused)
  return ok(machineJson(context, machine))
}

export const deleteMachine = (context: ApiContext, request: ApiRequest): Reply => {
  const found = lookup(context, request, { destroyedVisible: false })
  if (Result.isFailure(found)) return found.failure
  const leased = leaseRefusal(found.success, request)
  if (leased) return leased
  const force = request.query.get("force") === "true" || request.query.get("kill") === "true"
  const outcome = context.lifecycle.destroy(found.success, force)
  return outcome ? failure(412, outcome.refused) : ok({ ok: true })
}

export const startMachine = (context: ApiContext, request: ApiRequest): Reply => {
  const found = lookup(context, request, { destroyedVisible: false })
  if (Result.isFailure(found)) return found.failure
  const leased = leaseRefusal(found.success, request)
  if (leased) return leased
  const outcome = context.lifecycle.start(found.success)
  if ("refused" in outcome) return failure(412, outcome.refused)
  return ok({ previous_state: outcome.previousState, migrated: false, new_host: "" })
}

/**
 * `POST …/stop`. fly-go's `flaps.Stop` always sends `timeout`, `"0s"` when its caller gave none: a zero
 * (or absent) timeout means the Machine's `stop_config.timeout` or the default, never an immediate kill.
 */
export const stopMachine = (context: ApiContext, request: ApiRequest): Reply => {
  const found = lookup(context, request, { destroyedVisible: false })
  if (Result.isFailure(found)) return found.failure
  const leased = leaseRefusal(found.success, request)
  if (leased) return leased
  if (Array.isArray(request.body))
    return failure(400, "json: cannot unmarshal array into Go value of type main.stopRequest")
  const decoded = decodeBody(StopRequest, request.body)
  if (Result.isFailure(decoded)) return decoded.failure
  const { signal, timeout } = decoded.success
  const timeoutMs = timeout === undefined ? undefined : goDurationMs(timeout)
  if (timeoutMs === undefined && timeout !== undefined)
    return failure(400, `invalid timeout ${JSON.stringify(timeout)}: use a Go duration such as "10s"`)
  if (signal !== undefined && signal !== "" && !stopSignals.includes(signal))
    return failure(400, `invalid signal ${signal}`)
  const outcome = context.lifecycle.stop(found.success, {
    ...(signal ? { signal } : {}),
    ...(timeoutMs ? { timeoutMs } : {}),
  })
  return outcome ? failure(412, outcome.refused) : ok({ ok: true })
}

/**
 * `POST …/restart?timeout=&signal=&force_stop=` (the Machines API; fly-go's machine types); a body is ignored. A Machine
 * that cannot be restarted now is a 400: the only refusal the Machines API documents for restart (see the README).
 */
export const restartMachine = (context: ApiContext, request: ApiRequest): Reply => {
  const found = lookup(context, request, { destroyedVisible: false })
  if (Result.isFailure(found)) return found.failure
  const leased = leaseRefusal(found.success, request)
  if (leased) return leased
  const timeoutMs = queryDurationMs(request.query.get("timeout"))
  if (timeoutMs !== undefined && Number.isNaN(timeoutMs))
    return failure(400, `invalid timeout ${request.query.get("timeout")}: use a Go duration such as "10s"`)
  const signal = request.query.get("signal") ?? ""
  if (signal !== "" && !stopSignals.includes(signal)) return failure(400, `invalid signal ${signal}`)
  const forceStop = request.query.get("force_stop") ?? "false"
  if (forceStop !== "true" && forceStop !== "false") return failure(400, "force_stop must be true or false")
  const outcome = context.lifecycle.restart(found.success, {
    ...(signal !== "" ? { signal } : {}),
    ...(timeoutMs ? { timeoutMs } : {}),
    forceStop: forceStop === "true",
  })
  return outcome ? failure(400, outcome.refused) : ok({ ok: true })
}

/** Lease endpoints on a Machine that exists (the Machines API's leases). */
const onMachine =
  (handler: (context: ApiContext, request: ApiRequest, machine: MachineRecord) => Reply) =>
  (context: ApiContext, request: ApiRequest): Reply => {
    const found = lookup(context, request, { destroyedVisible: false })
    return Result.isFailure(found) ? found.failure : handler(context, request, found.success)
  }

export const acquireMachineLease = onMachine(acquireLease)
export const getMachineLease = onMachine(findLease)
export const releaseMachineLease = onMachine(releaseLease)

const waitableStates = ["started", "stopped", "suspended", "destroyed", "failed", "settled"] as const
const settledStates: ReadonlyArray<MachineState> = ["created", "started", "stopped", "suspended", "failed"]

/** GET …/wait (the Machines API's wait): 200 when reached, 408 after `timeout`, 400 for bad arguments. */
export const waitMachine = async (context: ApiContext, request: ApiRequest): Promise<Reply> => {
  const timeoutMs = queryDurationMs(request.query.get("timeout")) ?? 60_000
  if (!(timeoutMs >= 1000 && timeoutMs <= 60_000))
    return failure(400, "invalid_argument: timeout must be between 1s and 1m0s")
  const states = request.query.getAll("state").flatMap((value) => value.split(",").filter(Boolean))
  const wanted = states.length > 0 ? states : ["started"]
  const unknown = wanted.find((state) => !(waitableStates as ReadonlyArray<string>).includes(state))
  if (unknown !== undefined) return failure(400, `invalid_argument: invalid state ${unknown}`)
  const version = request.query.get("version") ?? request.query.get("instance_id")
  const found = lookup(context, request, { destroyedVisible: true })
  if (Result.isFailure(found)) return found.failure
  const machine = found.success
  if (Date.now() - Date.parse(machine.createdAt) < context.waitNotFoundAfterCreateMs) return machineNotFound()

  const reached = (): boolean =>
    (version === null || machine.instanceId === version) &&
    (wanted.includes(machine.state) || (wanted.includes("settled") && settledStates.includes(machine.state)))
  const hopeless = (): boolean =>
    (machine.state === "destroyed" && !wanted.includes("destroyed")) ||
    (machine.state === "failed" && !wanted.includes("failed") && !wanted.includes("settled"))
  const answer = (): Reply =>
    ok({ ok: true, state: machine.state, version: machine.instanceId, event_id: machine.events[0]?.id ?? "" })

  if (reached()) return answer()
  return new Promise<Reply>((resolve) => {
    const finish = (reply: Reply) => {
      unsubscribe()
      clearTimeout(timer)
      request.signal.removeEventListener("abort", onAbort)
      resolve(reply)
    }
    const onAbort = () => finish(failure(499, "client closed request"))
    const unsubscribe = context.store.subscribe(() => {
      if (reached()) finish(answer())
      else if (hopeless()) finish(failure(400, "machine failed to reach desired state"))
    })
    const timer = setTimeout(() => finish(failure(408, "deadline_exceeded: timeout waiting for machine")), timeoutMs)
    request.signal.addEventListener("abort", onAbort)
  })
}
