import { Result, Schema } from "effect"
import type { ApiContext, ApiRequest } from "./ApiContext.ts"
import { appNotFound } from "./appsApi.ts"
import { machineId, machineName, privateIpv6, ulid } from "./identifiers.ts"
import { imageRef, storedConfig, validateMachineConfig } from "./machineConfig.ts"
import { failure, ok, type Reply } from "./Reply.ts"
import { decodeBody } from "./requestBody.ts"
import type { MachineRecord, MachineState } from "./Store.ts"

const MachineRequest = Schema.Struct({
  name: Schema.optionalKey(Schema.String),
  region: Schema.optionalKey(Schema.String),
  config: Schema.Record(Schema.String, Schema.Unknown),
  skip_launch: Schema.optionalKey(Schema.Boolean),
  skip_service_registration: Schema.optionalKey(Schema.Boolean),
  current_version: Schema.optionalKey(Schema.String),
})

const StopRequest = Schema.Struct({
  signal: Schema.optionalKey(Schema.String),
  timeout: Schema.optionalKey(Schema.Union([Schema.String, Schema.Number])),
})

const machineNotFound = (): Reply => failure(404, "machine not found")

const isoSeconds = (at: Date = new Date()): string => at.toISOString().replace(/\.\d+Z$/, "Z")

export const machineJson = (machine: MachineRecord, summary = false) => ({
  id: machine.id,
  name: machine.name,
  state: machine.state,
  region: machine.region,
  instance_id: machine.instanceId,
  private_ip: machine.privateIp,
  ...(summary
    ? {}
    : {
        config: machine.config,
        incomplete_config: false,
        image_ref: imageRef(String(machine.config.image)),
        events: machine.events,
        checks: Object.keys((machine.config.checks ?? {}) as Record<string, unknown>).map((name) => ({
          name,
          status: machine.state === "started" ? "passing" : "critical",
          output: "",
          updated_at: machine.updatedAt,
        })),
      }),
  created_at: machine.createdAt,
  updated_at: machine.updatedAt,
  host_status: "ok",
  cordoned: machine.skipServiceRegistration,
})

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
  const machines = context.store
    .machinesOf(app)
    .filter((machine) => includeDeleted || machine.state !== "destroyed")
    .filter((machine) => states.length === 0 || states.includes(machine.state))
    .filter((machine) => !region || machine.region === region)
    .filter((machine) => {
      const own = (machine.config.metadata ?? {}) as Record<string, string>
      return metadata.every(([key, value]) => own[key] === value)
    })
  return ok(machines.map((machine) => machineJson(machine, summary)))
}

export const getMachine = (context: ApiContext, request: ApiRequest): Reply => {
  const found = lookup(context, request, { destroyedVisible: true })
  return Result.isFailure(found) ? found.failure : ok(machineJson(found.success))
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
  }
  context.lifecycle.launch(machine, body.skip_launch === true)
  return ok(machineJson(machine))
}

export const updateMachine = (context: ApiContext, request: ApiRequest): Reply => {
  const found = lookup(context, request, { destroyedVisible: false })
  if (Result.isFailure(found)) return found.failure
  const machine = found.success
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
  return ok(machineJson(machine))
}

export const deleteMachine = (context: ApiContext, request: ApiRequest): Reply => {
  const found = lookup(context, request, { destroyedVisible: false })
  if (Result.isFailure(found)) return found.failure
  const force = request.query.get("force") === "true" || request.query.get("kill") === "true"
  const outcome = context.lifecycle.destroy(found.success, force)
  return outcome ? failure(412, outcome.refused) : ok({ ok: true })
}

export const startMachine = (context: ApiContext, request: ApiRequest): Reply => {
  const found = lookup(context, request, { destroyedVisible: false })
  if (Result.isFailure(found)) return found.failure
  const outcome = context.lifecycle.start(found.success)
  if ("refused" in outcome) return failure(412, outcome.refused)
  return ok({ previous_state: outcome.previousState, migrated: false, new_host: "" })
}

export const stopMachine = (context: ApiContext, request: ApiRequest): Reply => {
  const found = lookup(context, request, { destroyedVisible: false })
  if (Result.isFailure(found)) return found.failure
  if (Array.isArray(request.body))
    return failure(400, "json: cannot unmarshal array into Go value of type main.stopRequest")
  const decoded = decodeBody(StopRequest, request.body)
  if (Result.isFailure(decoded)) return decoded.failure
  const timeoutMs = parseDurationMs(decoded.success.timeout)
  const outcome = context.lifecycle.stop(found.success, {
    ...(decoded.success.signal ? { signal: decoded.success.signal } : {}),
    ...(timeoutMs !== undefined ? { timeoutMs } : {}),
  })
  return outcome ? failure(412, outcome.refused) : ok({ ok: true })
}

/** Go duration strings ("1m30s", "500ms"), or plain numbers as seconds. */
export const parseDurationMs = (value: string | number | undefined): number | undefined => {
  if (value === undefined || value === "") return undefined
  if (typeof value === "number") return value * 1000
  if (/^\d+(\.\d+)?$/.test(value)) return Number(value) * 1000
  const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }
  const parts = [...value.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)]
  if (parts.length === 0 || parts.map((part) => part[0]).join("") !== value) return Number.NaN
  return parts.reduce((total, part) => total + Number(part[1]) * (units[part[2] ?? "s"] ?? 0), 0)
}

const waitableStates = ["started", "stopped", "suspended", "destroyed", "failed", "settled"] as const
const settledStates: ReadonlyArray<MachineState> = ["created", "started", "stopped", "suspended", "failed"]

/** GET …/wait (reference §3.6): 200 when reached, 408 after `timeout`, 400 for bad arguments. */
export const waitMachine = async (context: ApiContext, request: ApiRequest): Promise<Reply> => {
  const timeoutMs = parseDurationMs(request.query.get("timeout") ?? undefined) ?? 60_000
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
