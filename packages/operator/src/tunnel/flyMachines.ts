import type { FlyTunnelSpec } from "@fly-tunnel-operator/api"
import { type App, FlyClient, type Machine } from "@fly-tunnel-operator/fly"
import { chooseControlPorts } from "@fly-tunnel-operator/frp"
import { Effect } from "effect"
import type { PushedToken } from "./flySecret.ts"
import { configHashOf, frpsMachineConfig } from "./frpsMachineConfig.ts"
import { blockedByFly } from "./tunnelBlocked.ts"
import { MachineMetadata, machineName, type TunnelIdentity } from "./tunnelNames.ts"
import { TunnelSettings } from "./tunnelSettings.ts"

/** A Machine as the tunnel uses it, with the control port its frpc dials. */
export interface TunnelMachine {
  readonly machine: Machine
  readonly controlPort: number
}

/**
 * Fly answers a Machine whose host is not ok without its config (`host_status`, `incomplete_config`). Its config is
 * unknown, so the Machine is left exactly as it is — not updated, replaced nor destroyed — until the host is back.
 */
export const configUnknown = (machine: Machine): boolean =>
  machine.config === undefined || (machine.host_status !== undefined && machine.host_status !== "ok")

/** The region → control port plan: regions in spec order, each with its own control port. */
const machinePlans = (spec: FlyTunnelSpec) => {
  const ports = chooseControlPorts(
    spec.ports.map((port) => port.port),
    spec.regions.length,
  )
  return spec.regions.map((region, index) => ({ region, controlPort: ports[index] ?? 0 }))
}

/**
 * One frps Machine per region, running the desired config. Machines are found by our metadata before anything is
 * created (a lost create answer leaves a Machine that the next pass adopts); a Machine is updated only when its
 * config hash differs, so a converged tunnel costs no mutating call and no frps restart. A Machine whose config is
 * unknown (host trouble) holds its region and is not touched; the other regions go on.
 */
export const ensureMachines = Effect.fn("ensureMachines")(function* (
  tunnel: TunnelIdentity,
  spec: FlyTunnelSpec,
  app: App,
  token: PushedToken,
  trustPem: string,
) {
  const fly = yield* FlyClient
  const settings = yield* TunnelSettings
  const existing = yield* fly.listMachines(app.name, { metadata: { [MachineMetadata.tunnelUid]: tunnel.uid } })
  const live = existing.filter((machine) => machine.state !== "destroyed" && machine.state !== "destroying")
  const plans = machinePlans(spec)
  const regionOf = (machine: Machine) =>
    (machine.config ?? machine.incomplete_config)?.metadata?.[MachineMetadata.region] ?? machine.region
  // One Machine per region: the first of a region is kept (one with a known config first), any other (or one of a
  // dropped region) goes — unless its config is unknown.
  const kept = new Map<string, Machine>()
  for (const machine of [...live].sort((a, b) => Number(configUnknown(a)) - Number(configUnknown(b)))) {
    const region = regionOf(machine)
    if (plans.some((plan) => plan.region === region) && !kept.has(region)) kept.set(region, machine)
  }
  const surplus = live.filter((machine) => kept.get(regionOf(machine)) !== machine && !configUnknown(machine))
  yield* Effect.forEach(
    surplus,
    (machine) => fly.deleteMachine(app.name, machine.id).pipe(Effect.catchTag("FlyNotFound", () => Effect.void)),
    { concurrency: "unbounded", discard: true },
  )
  return yield* Effect.forEach(
    plans,
    Effect.fnUntraced(function* (plan) {
      const config = frpsMachineConfig(tunnel, spec, plan, settings.frpsImage, { ...token, trustPem })
      const current = kept.get(plan.region)
      if (current === undefined) {
        const created = yield* fly.createMachine(app.name, {
          name: machineName(plan.region),
          region: plan.region,
          config,
          min_secrets_version: token.secretsVersion,
        })
        return { machine: created, controlPort: plan.controlPort }
      }
      if (configUnknown(current) || configHashOf(current.config) === configHashOf(config))
        return { machine: current, controlPort: plan.controlPort }
      const updated = yield* fly.updateMachine(app.name, current.id, {
        region: plan.region,
        config,
        min_secrets_version: token.secretsVersion,
        current_version: current.instance_id,
      })
      return { machine: updated, controlPort: plan.controlPort }
    }),
    { concurrency: "unbounded" },
  )
}, blockedByFly("MachinesReady"))
