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

/**
 * The annotations a chaos Service is created with: its regions and, with hostnames, the hostnames and Fly's `tls` edge
 * on every TCP port name a run may give it (an annotation for a port the Service does not have is ignored).
 */
export const chaosAnnotations = (
  regions: ReadonlyArray<string>,
  hostnames: ReadonlyArray<string>,
): Record<string, string> => ({
  "fly-tunnel-operator.dev/fly-regions": regions.join(","),
  ...(hostnames.length === 0
    ? {}
    : {
        "fly-tunnel-operator.dev/hostnames": hostnames.join(","),
        ...Object.fromEntries(
          TCP_PORTS.map((port) => [`fly-tunnel-operator.dev/${servicePort(port).name}-edge`, "tls"] as const),
        ),
      }),
})

export type ChaosStep =
  | {
      readonly kind: "create"
      readonly service: string
      readonly ports: ReadonlyArray<ChaosPort>
      readonly regions: ReadonlyArray<string>
      /** Fixed for the Service's life; with any, its TCP ports have Fly's `tls` edge (see chaosAnnotations). */
      readonly hostnames: ReadonlyArray<string>
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
  "listCertificates",
  "createAcmeCertificate",
  "getCertificate",
  "checkCertificate",
  "deleteCertificate",
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
const PORTS: ReadonlyArray<ChaosPort> = [
  { port: 7001, protocol: "TCP" },
  { port: 7002, protocol: "TCP" },
  { port: 7003, protocol: "UDP" },
  { port: 8443, protocol: "TCP" },
  { port: 8443, protocol: "UDP" },
]
const TCP_PORTS = PORTS.filter((entry) => entry.protocol === "TCP")
const portsOf = subset<ChaosPort>(PORTS, 3)

/** Hostnames need a port with Fly's edge, so a Service with hostnames always keeps a TCP port. */
const withTcp = (ports: ReadonlyArray<ChaosPort>): ReadonlyArray<ChaosPort> =>
  ports.some((entry) => entry.protocol === "TCP") ? ports : [TCP_PORTS[0] as ChaosPort, ...ports]

/** None half the time, else one or two hostnames of the Service's own. */
const hostnamesOf = (service: string) =>
  Effect.map(Random.nextIntBetween(-1, 2), (count) =>
    Array.from({ length: Math.max(count, 0) }, (_, index) => `${service}-${index + 1}.example.com`),
  )

/** The calls a duplicate or a leak would come from: faults hit them half the time. */
const CREATES = ["createApp", "createMachine", "createIpAssignment", "setSecrets", "createAcmeCertificate"] as const

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
    const hostnames = new Map<string, ReadonlyArray<string>>()
    const portsFor = (service: string) =>
      Effect.map(portsOf, (ports) => ((hostnames.get(service) ?? []).length > 0 ? withTcp(ports) : ports))
    const steps: Array<ChaosStep> = []
    let made = 0
    while (steps.length < options.steps) {
      const roll = yield* Random.nextIntBetween(1, 100)
      if (roll <= 25 && live.length < options.maxServices) {
        made += 1
        const service = `chaos-${made}`
        live.push(service)
        hostnames.set(service, yield* hostnamesOf(service))
        steps.push({
          kind: "create",
          service,
          ports: yield* portsFor(service),
          regions: yield* subset(options.regions, 2),
          hostnames: hostnames.get(service) ?? [],
        })
      } else if (roll <= 35 && live.length > 0) {
        const service = yield* pick(live)
        steps.push({ kind: "ports", service, ports: yield* portsFor(service) })
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
  const services = new Map<
    string,
    { ports: ReadonlyArray<ChaosPort>; regions: ReadonlyArray<string>; hostnames: ReadonlyArray<string> }
  >()
  for (const step of steps) {
    if (step.kind === "create")
      services.set(step.service, { ports: step.ports, regions: step.regions, hostnames: step.hostnames })
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

/** The hostnames of every Service the run created (each keeps its own for life). */
export const hostnamesByService = (steps: ReadonlyArray<ChaosStep>): ReadonlyMap<string, ReadonlyArray<string>> =>
  new Map(steps.flatMap((step) => (step.kind === "create" ? [[step.service, step.hostnames] as const] : [])))
