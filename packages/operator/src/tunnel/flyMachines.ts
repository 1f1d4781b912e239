import type { FlyTunnelSpec } from "@fly-tunnel-operator/api"
import { type App, FlyClient, type Machine, type MachineConfig } from "@fly-tunnel-operator/fly"
import { chooseControlPorts } from "@fly-tunnel-operator/frp"
import { Effect } from "effect"
import type { PushedToken } from "./flySecret.ts"
import {
  configHashOf,
  controlPortOf,
  type FrpsMachinePlan,
  frpsMachineConfig,
  holdsConfig,
} from "./frpsMachineConfig.ts"
import { type FrpsSlot, slotKey, slotsOf } from "./frpsSlot.ts"
import { RolloutGate } from "./machineRollout.ts"
import { blockedByFly } from "./tunnelBlocked.ts"
import { MachineMetadata, machineName, type TunnelIdentity } from "./tunnelNames.ts"
import { TunnelSettings } from "./tunnelSettings.ts"

/** A Machine as the tunnel uses it: which slot it fills, and the control port its frpc dials. */
export interface TunnelMachine {
  readonly machine: Machine
  readonly slot: FrpsSlot
  readonly controlPort: number
  /** It runs (or was just given) the desired config; false while a rollout has not reached it yet. */
  readonly current: boolean
}

/**
 * Fly answers a Machine whose host is not ok without its config (`host_status`, `incomplete_config`). Its config is
 * unknown, so the Machine is left exactly as it is — not updated, replaced nor destroyed — until the host is back.
 */
export const configUnknown = (machine: Machine): boolean =>
  machine.config === undefined || (machine.host_status !== undefined && machine.host_status !== "ok")

/**
 * The slot → control port plan, slots in order (see slotsOf). A slot whose Machine exists keeps the control port that
 * Machine serves: given to another slot, both Machines would serve it on the App's address until this one is updated,
 * and Fly's proxy could hand the other slot's frpc to this frps. New slots (and one whose port became a tunnel port)
 * take the first free ones (see chooseControlPorts).
 */
export const machinePlans = (
  spec: FlyTunnelSpec,
  machines: ReadonlyArray<Machine> = [],
): ReadonlyArray<FrpsMachinePlan & { readonly key: string }> => {
  const slots = slotsOf(spec)
  const taken = new Set(spec.ports.map((port) => port.port))
  const kept = new Map<string, number>()
  for (const key of slots.map(slotKey)) {
    const port = machines
      .filter((machine) => slotKeyOf(machine) === key)
      .map(controlPortOf)
      .find((candidate) => candidate !== undefined)
    if (port !== undefined && !taken.has(port)) {
      kept.set(key, port)
      taken.add(port)
    }
  }
  const fresh = chooseControlPorts([...taken], slots.length - kept.size)[Symbol.iterator]()
  return slots.map((slot) => {
    const key = slotKey(slot)
    return { ...slot, key, controlPort: kept.get(key) ?? fresh.next().value ?? 0 }
  })
}

/** The slot a Machine fills, from our metadata (one without a role is a TCP one). */
export const slotKeyOf = (machine: Machine) => {
  const metadata = (machine.config ?? machine.incomplete_config)?.metadata
  return slotKey({
    region: metadata?.[MachineMetadata.region] ?? machine.region,
    role: metadata?.[MachineMetadata.role] === "udp" ? "udp" : "tcp",
  })
}

/**
 * The tunnel's Machines in its App, found by our metadata; in an adopted App every Machine, as the others there are
 * replaced (see isTunnelMachine).
 */
export const listTunnelMachines = (fly: FlyClient["Service"], app: string, tunnel: TunnelIdentity, adopted = false) =>
  fly.listMachines(app, adopted ? {} : { metadata: { [MachineMetadata.tunnelUid]: tunnel.uid } })

/**
 * Whether a listed Machine is the tunnel's. The metadata filter already chose them in its own App; in an adopted App
 * they are told apart here (one whose config Fly cannot report at all is left alone, as ours).
 */
export const isTunnelMachine =
  (tunnel: TunnelIdentity, adopted: boolean) =>
  (machine: Machine): boolean => {
    const config = machine.config ?? machine.incomplete_config
    return !adopted || config === undefined || config.metadata?.[MachineMetadata.tunnelUid] === tunnel.uid
  }

/** States a Machine is started from again: it should run, and nothing but drift stopped it. */
const STARTABLE = new Set(["stopped", "suspended", "failed", "created"])

/** A Machine that runs the desired config: its hash matches and nothing we set was changed behind our back. */
const upToDate = (machine: Machine, desired: MachineConfig) =>
  configHashOf(machine.config) === configHashOf(desired) && holdsConfig(machine.config, desired)

/** A Machine just updated is settled once it runs again: started, every check it reports passing. */
const settled = (machine: Machine) =>
  machine.state === "started" && (machine.checks ?? []).every((check) => check.status === "passing")

/**
 * One frps Machine per slot (a region's TCP or UDP ports), running the desired config. Machines are found by our
 * metadata before anything is created (a lost create answer leaves a Machine that the next pass adopts); `listed` is
 * what the caller already knows the App holds (nothing, for an App it just created; or a list it made alongside the
 * App's look, every Machine for an adopted App). In an adopted App, every Machine that is not this tunnel's is
 * deleted first (see appAdoption.ts). A Machine is updated only when it does not run the desired config — its hash
 * differs, or something we set was changed out of band — so a converged tunnel costs no mutating call and no frps
 * restart; a stopped one is started again. Updates roll: one Machine at a time, the next only once the last one runs
 * again, and only while the RolloutGate gives this tunnel a place. A Machine whose config is unknown (host trouble)
 * holds its slot and is not touched; the other slots go on.
 */
export const ensureMachines = Effect.fn("ensureMachines")(function* (
  tunnel: TunnelIdentity,
  spec: FlyTunnelSpec,
  app: App,
  token: PushedToken,
  trustPem: string,
  listed: ReadonlyArray<Machine> | undefined,
  adopted = false,
) {
  const fly = yield* FlyClient
  const settings = yield* TunnelSettings
  const gate = yield* RolloutGate
  const existing = listed ?? (yield* listTunnelMachines(fly, app.name, tunnel, adopted))
  const isLive = (machine: Machine) => machine.state !== "destroyed" && machine.state !== "destroying"
  const isOurs = isTunnelMachine(tunnel, adopted)
  // An adopted App's other Machines (the Go operator's frps, or those of the tunnel the App was made for) are replaced:
  // deleted before ours are made, so that they never publish the tunnel's ports on its address beside ours and their
  // names are free for ours.
  yield* Effect.forEach(
    existing.filter((machine) => !isOurs(machine) && isLive(machine)),
    (machine) => fly.deleteMachine(app.name, machine.id).pipe(Effect.catchTag("FlyNotFound", () => Effect.void)),
    { concurrency: "unbounded", discard: true },
  )
  const live = existing.filter((machine) => isOurs(machine) && isLive(machine))
  // One Machine per slot: the first of a slot is kept (one with a known config first), any other (or one of a
  // dropped slot) goes — unless its config is unknown.
  const slotKeys = new Set(slotsOf(spec).map(slotKey))
  const kept = new Map<string, Machine>()
  for (const machine of [...live].sort((a, b) => Number(configUnknown(a)) - Number(configUnknown(b)))) {
    const key = slotKeyOf(machine)
    if (slotKeys.has(key) && !kept.has(key)) kept.set(key, machine)
  }
  const plans = machinePlans(spec, [...kept.values()]).map((plan) => ({
    ...plan,
    config: frpsMachineConfig(tunnel, spec, plan, settings.frpsImage, { ...token, trustPem }),
  }))
  const surplus = live.filter((machine) => kept.get(slotKeyOf(machine)) !== machine && !configUnknown(machine))
  yield* Effect.forEach(
    surplus,
    (machine) => fly.deleteMachine(app.name, machine.id).pipe(Effect.catchTag("FlyNotFound", () => Effect.void)),
    { concurrency: "unbounded", discard: true },
  )

  // The rollout: Machines that exist with a known config but not the desired one are updated one per pass, in spec
  // order. One already moved to the desired config that does not run again yet holds the next back (an outdated one
  // that is unhealthy does not: it may be unhealthy precisely because it is outdated).
  const outdated = plans.filter((plan) => {
    const current = kept.get(plan.key)
    return current !== undefined && !configUnknown(current) && !upToDate(current, plan.config)
  })
  const rolling =
    outdated.length > 0 &&
    plans.some((plan) => {
      const current = kept.get(plan.key)
      return current !== undefined && !configUnknown(current) && upToDate(current, plan.config) && !settled(current)
    })
  const next = outdated[0]
  const mayUpdate = next !== undefined && !rolling && (yield* gate.enter(tunnel.uid))
  if (outdated.length === 0) yield* gate.leave(tunnel.uid)

  const machines = yield* Effect.forEach(
    plans,
    Effect.fnUntraced(function* (plan) {
      const current = kept.get(plan.key)
      if (current === undefined) {
        const created = yield* fly.createMachine(app.name, {
          name: machineName(plan.key),
          region: plan.region,
          config: plan.config,
          min_secrets_version: token.secretsVersion,
        })
        return {
          machine: created,
          slot: { region: plan.region, role: plan.role },
          controlPort: plan.controlPort,
          current: true,
        }
      }
      if (configUnknown(current))
        return {
          machine: current,
          slot: { region: plan.region, role: plan.role },
          controlPort: plan.controlPort,
          current: true,
        }
      if (!upToDate(current, plan.config)) {
        if (!(mayUpdate && plan === next))
          return {
            machine: current,
            slot: { region: plan.region, role: plan.role },
            controlPort: plan.controlPort,
            current: false,
          }
        const updated = yield* fly.updateMachine(app.name, current.id, {
          region: plan.region,
          config: plan.config,
          min_secrets_version: token.secretsVersion,
          current_version: current.instance_id,
        })
        return {
          machine: updated,
          slot: { region: plan.region, role: plan.role },
          controlPort: plan.controlPort,
          current: true,
        }
      }
      if (STARTABLE.has(current.state)) yield* fly.startMachine(app.name, current.id)
      return {
        machine: current,
        slot: { region: plan.region, role: plan.role },
        controlPort: plan.controlPort,
        current: true,
      }
    }),
    { concurrency: "unbounded" },
  )
  return machines
}, blockedByFly("MachinesReady"))
