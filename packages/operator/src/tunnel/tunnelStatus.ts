import { type Condition, type ConditionType, type FlyTunnelStatus, type Phase, Reasons } from "@fly-tunnel-operator/api"
import type { App } from "@fly-tunnel-operator/fly"
import { configUnknown, type TunnelMachine } from "./flyMachines.ts"
import type { TunnelBlocked } from "./tunnelBlocked.ts"

/** What one reconcile saw; a step that could not run leaves its field undefined and may name why. */
export interface Observations {
  readonly generation: number
  readonly app?: App
  readonly machines?: ReadonlyArray<TunnelMachine>
  readonly address?: string
  /** frpc rolled out (every replica available). */
  readonly clientRolledOut?: boolean
  readonly blocked: ReadonlyArray<TunnelBlocked>
}

interface Verdict {
  readonly ok: boolean
  readonly reason: string
  readonly message: string
}

const blockedFor = (observations: Observations, type: ConditionType): Verdict | undefined => {
  const blocked = observations.blocked.find((issue) => issue.condition === type)
  return blocked === undefined ? undefined : { ok: false, reason: blocked.reason, message: blocked.message }
}

/** Checks Fly reports for a Machine; a TCP check on a tunnel port passes once frpc registered its proxy. */
const checksPassing = (machine: TunnelMachine): boolean =>
  (machine.machine.checks ?? []).every((check) => check.status === "passing")

/** Which Machines are on a host Fly reports as not ok, and so are left alone. */
const unhealthyHosts = (machines: ReadonlyArray<TunnelMachine>): Verdict | undefined => {
  const unknown = machines.filter((entry) => configUnknown(entry.machine))
  if (unknown.length === 0) return undefined
  const which = unknown.map(
    ({ machine }) =>
      `frps Machine ${machine.id} (${machine.region}) is on a host Fly reports as ${machine.host_status ?? "not ok"}`,
  )
  return {
    ok: false,
    reason: Reasons.FlyError,
    message: `${which.join("; ")}: its config is unknown, so it is left as it is until the host is back`,
  }
}

const verdicts = (observations: Observations): Record<Exclude<ConditionType, "Ready">, Verdict> => {
  const machines = observations.machines ?? []
  const started = machines.filter((machine) => machine.machine.state === "started")
  return {
    AppReady:
      blockedFor(observations, "AppReady") ??
      (observations.app === undefined
        ? { ok: false, reason: Reasons.Provisioning, message: "creating the Fly App" }
        : { ok: true, reason: Reasons.AppCreated, message: `Fly App ${observations.app.name} is ready` }),
    MachinesReady:
      blockedFor(observations, "MachinesReady") ??
      unhealthyHosts(machines) ??
      (machines.length > 0 && started.length === machines.length
        ? { ok: true, reason: Reasons.MachineStarted, message: `${started.length} frps Machine(s) started` }
        : {
            ok: false,
            reason: Reasons.MachineCreating,
            message: `${started.length} of ${machines.length || "the"} frps Machine(s) started`,
          }),
    AddressReady:
      blockedFor(observations, "AddressReady") ??
      (observations.address === undefined
        ? { ok: false, reason: Reasons.Provisioning, message: "allocating a dedicated IPv4" }
        : { ok: true, reason: Reasons.AddressAllocated, message: `dedicated IPv4 ${observations.address}` }),
    ClientReady:
      blockedFor(observations, "ClientReady") ??
      (observations.clientRolledOut === true && started.length > 0 && started.every(checksPassing)
        ? { ok: true, reason: Reasons.ClientReady, message: "frpc is connected and every port is published" }
        : {
            ok: false,
            reason: Reasons.ClientDeploying,
            message:
              observations.clientRolledOut === true
                ? "frpc is running; waiting for Fly's checks to see its proxies"
                : "waiting for the frpc Deployment to roll out",
          }),
  }
}

const condition = (
  type: ConditionType,
  verdict: Verdict,
  generation: number,
  previous: ReadonlyArray<Condition>,
  now: string,
): Condition => {
  const status = verdict.ok ? "True" : "False"
  const before = previous.find((existing) => existing.type === type)
  return {
    type,
    status,
    observedGeneration: generation,
    lastTransitionTime: before?.status === status ? before.lastTransitionTime : now,
    reason: verdict.reason,
    message: verdict.message,
  }
}

/** The status a reconcile writes: conditions keep their transition time while their status stands. */
export const tunnelStatus = (
  observations: Observations,
  previous: FlyTunnelStatus | undefined,
  now: string,
): FlyTunnelStatus => {
  const parts = verdicts(observations)
  const notReady = Object.values(parts).find((verdict) => !verdict.ok)
  const readyBlock = blockedFor(observations, "Ready")
  const ready: Verdict = readyBlock ??
    notReady ?? { ok: true, reason: Reasons.Ready, message: `tunnel carries traffic at ${observations.address}` }
  const permanent = observations.blocked.some((issue) => !issue.retry)
  const phase: Phase = ready.ok
    ? "Ready"
    : permanent
      ? "Failed"
      : observations.app === undefined && observations.blocked.length === 0
        ? "Pending"
        : "Provisioning"
  const before = previous?.conditions ?? []
  return {
    observedGeneration: observations.generation,
    phase,
    conditions: [
      condition("Ready", ready, observations.generation, before, now),
      ...(Object.entries(parts) as Array<[ConditionType, Verdict]>).map(([type, verdict]) =>
        condition(type, verdict, observations.generation, before, now),
      ),
    ],
    ...(observations.app === undefined
      ? previous?.app === undefined
        ? {}
        : { app: previous.app }
      : {
          app: {
            name: observations.app.name,
            ...(observations.app.network === undefined ? {} : { network: observations.app.network }),
          },
        }),
    ...(observations.machines === undefined
      ? previous?.machines === undefined
        ? {}
        : { machines: previous.machines }
      : {
          machines: observations.machines.map((entry) => ({
            id: entry.machine.id,
            region: entry.machine.region,
            state: entry.machine.state,
            instanceId: entry.machine.instance_id,
            controlPort: entry.controlPort,
          })),
        }),
    ...(observations.address === undefined
      ? previous?.addresses === undefined
        ? {}
        : { addresses: previous.addresses }
      : { addresses: [{ ip: observations.address, type: "v4" as const }] }),
  }
}

export const isReady = (status: FlyTunnelStatus): boolean =>
  status.conditions?.some((condition) => condition.type === "Ready" && condition.status === "True") ?? false
