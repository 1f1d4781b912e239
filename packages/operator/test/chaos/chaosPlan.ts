// A chaos run as data: a sequence of user actions, Fly faults and operator deaths drawn from one seed. The same seed
// gives the same sequence (the interleaving with the operator's own work still varies from run to run).
import type { Fault } from "@fly-tunnel-operator/fly-emulator"
import { Effect, Random } from "effect"

export interface ChaosPort {
  readonly port: number
  readonly protocol: "TCP" | "UDP"
}

/** A Service port for a chaos port: named after its protocol and number, so names never clash. */
export const servicePort = (entry: ChaosPort) => ({
  name: `${entry.protocol.toLowerCase()}-${entry.port}`,
  port: entry.port,
  protocol: entry.protocol,
})

export type ChaosStep =
  | {
      readonly kind: "create"
      readonly service: string
      readonly ports: ReadonlyArray<ChaosPort>
      readonly regions: ReadonlyArray<string>
    }
  | { readonly kind: "ports"; readonly service: string; readonly ports: ReadonlyArray<ChaosPort> }
  | { readonly kind: "regions"; readonly service: string; readonly regions: ReadonlyArray<string> }
  | { readonly kind: "delete"; readonly service: string }
  | { readonly kind: "fault"; readonly fault: Fault }
  /** The leader dies without giving the Lease up (kill -9); a new replica starts. */
  | { readonly kind: "kill" }
  /** The leader stops gracefully (drains, releases the Lease); a new replica starts. */
  | { readonly kind: "leaderChange" }
  | { readonly kind: "wait"; readonly ms: number }

export interface ChaosPlanOptions {
  readonly steps: number
  /** Live Services at most at once. */
  readonly maxServices: number
  readonly regions: ReadonlyArray<string>
  /** Longest pause between two steps. */
  readonly maxWaitMs: number
  /** Whether faults may hang a call until the client gives up (cheap only with a short client timeout). */
  readonly hangs: boolean
}

/** Every Fly call the operator makes, and so every call a fault may hit. */
const FAULT_ACTIONS = [
  "createApp",
  "getApp",
  "setSecrets",
  "createMachine",
  "updateMachine",
  "startMachine",
  "listMachines",
  "getMachine",
  "deleteMachine",
  "createIpAssignment",
  "listIpAssignments",
  "deleteIpAssignment",
  "deleteApp",
  "listApps",
  "listSecrets",
] as const

const pick = <A>(items: ReadonlyArray<A>) =>
  Effect.map(Random.nextIntBetween(0, items.length - 1), (index) => items[index] as A)

/** A non-empty subset, in the order given. */
const subset = <A>(items: ReadonlyArray<A>, max: number) =>
  Effect.gen(function* () {
    const shuffled = yield* Random.shuffle(items)
    const size = yield* Random.nextIntBetween(1, Math.min(max, items.length))
    const chosen = new Set(shuffled.slice(0, size))
    return items.filter((item) => chosen.has(item))
  })

// TCP and UDP, and one number with both (each protocol has its own Machine per region).
const portsOf = subset<ChaosPort>(
  [
    { port: 7001, protocol: "TCP" },
    { port: 7002, protocol: "TCP" },
    { port: 7003, protocol: "UDP" },
    { port: 8443, protocol: "TCP" },
    { port: 8443, protocol: "UDP" },
  ],
  3,
)

/** The calls a duplicate or a leak would come from: faults hit them half the time. */
const CREATES = ["createApp", "createMachine", "createIpAssignment", "setSecrets"] as const

const faultOf = (hangs: boolean) =>
  Effect.gen(function* () {
    const action = (yield* Random.nextBoolean) ? yield* pick(CREATES) : yield* pick(FAULT_ACTIONS)
    const count = yield* Random.nextIntBetween(1, 3)
    const applied = yield* Random.nextBoolean
    const kinds: ReadonlyArray<Fault> = [
      { action, count, kind: "status", status: 503 },
      { action, count, kind: "status", status: 502, applied: true },
      { action, count, kind: "status", status: 429 },
      { action, count, kind: "timeout", holdMs: 50, applied },
      { action, count, kind: "lostResponse" },
      ...(hangs ? [{ action, count: 1, kind: "timeout", hang: true, applied } satisfies Fault] : []),
    ]
    return yield* pick(kinds)
  })

/** The steps of run `seed`. Service names are never reused within a run, so each names one incarnation. */
export const planRun = (seed: number, options: ChaosPlanOptions): Effect.Effect<ReadonlyArray<ChaosStep>> =>
  Effect.gen(function* () {
    const live: Array<string> = []
    const steps: Array<ChaosStep> = []
    let made = 0
    while (steps.length < options.steps) {
      const roll = yield* Random.nextIntBetween(1, 100)
      if (roll <= 25 && live.length < options.maxServices) {
        made += 1
        const service = `chaos-${made}`
        live.push(service)
        steps.push({ kind: "create", service, ports: yield* portsOf, regions: yield* subset(options.regions, 2) })
      } else if (roll <= 35 && live.length > 0) {
        steps.push({ kind: "ports", service: yield* pick(live), ports: yield* portsOf })
      } else if (roll <= 45 && live.length > 0) {
        steps.push({ kind: "regions", service: yield* pick(live), regions: yield* subset(options.regions, 2) })
      } else if (roll <= 55 && live.length > 0) {
        const service = yield* pick(live)
        live.splice(live.indexOf(service), 1)
        steps.push({ kind: "delete", service })
      } else if (roll <= 75) {
        steps.push({ kind: "fault", fault: yield* faultOf(options.hangs) })
      } else if (roll <= 80) {
        steps.push({ kind: "kill" })
      } else if (roll <= 84) {
        steps.push({ kind: "leaderChange" })
      } else {
        steps.push({ kind: "wait", ms: yield* Random.nextIntBetween(0, options.maxWaitMs) })
      }
    }
    return steps
  }).pipe(Random.withSeed(seed))

/** The Services alive after the plan, with what they finally ask for. */
export const finalServices = (steps: ReadonlyArray<ChaosStep>) => {
  const services = new Map<string, { ports: ReadonlyArray<ChaosPort>; regions: ReadonlyArray<string> }>()
  for (const step of steps) {
    if (step.kind === "create") services.set(step.service, { ports: step.ports, regions: step.regions })
    else if (step.kind === "ports" || step.kind === "regions") {
      const current = services.get(step.service)
      if (current === undefined) continue
      services.set(
        step.service,
        step.kind === "ports" ? { ...current, ports: step.ports } : { ...current, regions: step.regions },
      )
    } else if (step.kind === "delete") services.delete(step.service)
  }
  return services
}

/** The Machines a Service asks for: per region, one for its TCP ports and one for its UDP ports. */
export const machineNames = (ports: ReadonlyArray<ChaosPort>, regions: ReadonlyArray<string>) =>
  (["TCP", "UDP"] as const)
    .filter((protocol) => ports.some((entry) => entry.protocol === protocol))
    .flatMap((protocol) => regions.map((region) => (protocol === "TCP" ? `frps-${region}` : `frps-${region}-udp`)))
    .sort()

/** Machine creates each Service may cause: one per Machine it ever gained (a region, or a protocol in a region). */
export const machineAdditions = (steps: ReadonlyArray<ChaosStep>) => {
  const wanted = new Map<string, { ports: ReadonlyArray<ChaosPort>; regions: ReadonlyArray<string> }>()
  const additions = new Map<string, number>()
  for (const step of steps) {
    if (step.kind !== "create" && step.kind !== "regions" && step.kind !== "ports") continue
    const before = wanted.get(step.service)
    if (before === undefined && step.kind !== "create") continue
    const next =
      step.kind === "create"
        ? { ports: step.ports, regions: step.regions }
        : step.kind === "ports"
          ? { ...(before as NonNullable<typeof before>), ports: step.ports }
          : { ...(before as NonNullable<typeof before>), regions: step.regions }
    const had = before === undefined ? [] : machineNames(before.ports, before.regions)
    const gained = machineNames(next.ports, next.regions).filter((name) => !had.includes(name)).length
    additions.set(step.service, (additions.get(step.service) ?? 0) + gained)
    wanted.set(step.service, next)
  }
  return additions
}
