// The FlyTunnel's status as a pure function of what one reconcile saw: conditions with reasons,
// the phase, the App, Machines and addresses, and display fields for `kubectl get`.
import {
  type CertificateStatus,
  type Condition,
  type ConditionType,
  type FlyTunnelSpec,
  type FlyTunnelStatus,
  type Phase,
  Reasons,
} from "@fly-tunnel-operator/api"
import type { App, Machine } from "@fly-tunnel-operator/fly"
import { flyHostname } from "./flyCertificates.ts"
import { configUnknown, type TunnelMachine } from "./flyMachines.ts"
import type { PushedToken } from "./flySecret.ts"
import { type FrpsSlot, slotKey } from "./frpsSlot.ts"
import type { TunnelBlocked } from "./tunnelBlocked.ts"
import { targetSummary } from "./tunnelTarget.ts"

/** What one reconcile saw; a step that could not run leaves its field undefined and may name why. */
export interface Observations {
  readonly generation: number
  /** The decoded spec (absent when it is invalid). */
  readonly spec?: FlyTunnelSpec
  readonly app?: App
  /** The token the App holds, when it was checked this time. */
  readonly token?: PushedToken
  readonly machines?: ReadonlyArray<TunnelMachine>
  /** The IPv4 (dedicated or shared); frpc dials it when dedicated, the IPv6 otherwise. */
  readonly address?: string
  /** The public IPv6, when the spec wants one and it exists. */
  readonly ipv6?: string
  /** The certificates with which frpc and frps authenticate each other. */
  readonly tls?: FlyTunnelStatus["tls"]
  /** Where frpc delivers the traffic: a Service's ClusterIP, or the checked address of an address target. */
  readonly targetAddress?: string
  /** frpc rolled out (every replica available). */
  readonly clientRolledOut?: boolean
  /** The certificate of each spec hostname, when they were looked at this time. */
  readonly certificates?: ReadonlyArray<CertificateStatus>
  /** The App's create waits in line (Fly's per-org rate limit on App creation). */
  readonly appCreationQueued?: boolean
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

/** Fly names a service check `servicecheck-<NN>-<type>-<port>`; NN counts checks, so only type and port are read. */
const SERVICE_CHECK = /^servicecheck-\d+-tcp-(\d+)$/

/**
 * The ports Fly checks on a Machine (see frpsMachineConfig): on the TCP Machine each public TCP port, on the UDP one
 * its control port (UDP itself has no Fly check).
 */
export const checkedPorts = (
  entry: { readonly slot: FrpsSlot; readonly controlPort: number },
  spec: FlyTunnelSpec | undefined,
): ReadonlyArray<number> =>
  entry.slot.role === "udp"
    ? [entry.controlPort]
    : (spec?.ports ?? []).filter((port) => port.protocol !== "UDP").map((port) => port.port)

/**
 * The checked ports whose check Fly does not report passing on this Machine. A TCP check on a tunnel port passes only
 * once frpc has registered that port's proxy in frps, and Fly's proxy routes only to a Machine whose checks pass: so
 * none missing means bytes flow. A check that is absent (not run yet, or not reported) counts as not passing.
 */
export const portsNotPassing = (machine: Machine, checked: ReadonlyArray<number>): ReadonlyArray<number> => {
  const passing = new Set(
    (machine.checks ?? []).flatMap((check) => {
      const port = SERVICE_CHECK.exec(check.name)?.[1]
      return check.status === "passing" && port !== undefined ? [Number(port)] : []
    }),
  )
  return checked.filter((port) => !passing.has(port))
}

/** A rollout in progress: how far it got. */
const rollingOut = (machines: ReadonlyArray<TunnelMachine>): Verdict | undefined => {
  const waiting = machines.filter((entry) => !entry.current)
  if (waiting.length === 0) return undefined
  const updated = machines.length - waiting.length
  return {
    ok: false,
    reason: Reasons.MachineUpdating,
    message: `rolling the frps Machines to the new config one at a time: ${updated} of ${machines.length} updated; waiting: ${waiting.map((entry) => slotKey(entry.slot)).join(", ")}`,
  }
}

/** The IPv4, and the IPv6 unless the spec opts out; UDP is never offered on the IPv6 (Fly carries none there). */
const addressVerdict = ({ address, ipv6, spec }: Observations): Verdict => {
  const wantsV6 = spec?.ipv6 !== false
  if (address === undefined || (wantsV6 && ipv6 === undefined))
    return {
      ok: false,
      reason: Reasons.Provisioning,
      message: `allocating ${[address === undefined ? (spec?.ipv4 === "shared" ? "a shared IPv4" : "a dedicated IPv4") : "", wantsV6 && ipv6 === undefined ? "an IPv6" : ""].filter(Boolean).join(" and ")}`,
    }
  const udp = (spec?.ports ?? []).some((port) => port.protocol === "UDP")
  const v4 = spec?.ipv4 === "shared" ? `shared IPv4 ${address} (routed by hostname)` : `dedicated IPv4 ${address}`
  return {
    ok: true,
    reason: Reasons.AddressAllocated,
    message:
      ipv6 === undefined
        ? v4
        : `${v4} and IPv6 ${ipv6}${udp ? " (UDP ports on the IPv4 only: Fly carries no UDP over IPv6)" : ""}${spec?.ipv4 === "shared" ? "; frpc reaches frps over the IPv6" : ""}`,
  }
}

/**
 * What a pending certificate waits for, in words: every DNS record Fly asks for. The A/AAAA records or the CNAME point
 * the name at the tunnel; the `_acme-challenge` CNAME validates before traffic moves; the `_fly-ownership` TXT, when
 * Fly gives one, proves the name is this App's.
 */
const dnsSteps = (certificate: CertificateStatus): string => {
  const needs = certificate.dnsRequirements
  if (needs === undefined) return `${certificate.hostname} is ${certificate.status}`
  const written = (text: string) => text !== ""
  const addresses = [...(needs.a ?? []).map((ip) => `A ${ip}`), ...(needs.aaaa ?? []).map((ip) => `AAAA ${ip}`)]
  const pointing = [addresses.join(", "), needs.cname === undefined ? "" : `CNAME ${needs.cname}`]
    .filter(written)
    .join(", or ")
  const paths = [
    pointing,
    needs.acmeChallenge === undefined ? "" : `CNAME ${needs.acmeChallenge.name} → ${needs.acmeChallenge.target}`,
  ]
    .filter(written)
    .join("; or ")
  const ownership =
    needs.ownership === undefined ? "" : `; ownership: TXT ${needs.ownership.name} "${needs.ownership.value}"`
  return `${certificate.hostname} waits for DNS: ${paths}${ownership}`
}

/** CertificatesReady: every hostname's certificate issued; otherwise the first thing that needs a person. */
const certificatesVerdict = (observations: Observations, previous: FlyTunnelStatus | undefined): Verdict => {
  const blocked = blockedFor(observations, "CertificatesReady")
  if (blocked !== undefined) return blocked
  const certificates = observations.certificates ?? previous?.certificates
  if (certificates === undefined)
    return { ok: false, reason: Reasons.Provisioning, message: "requesting the hostnames' certificates from Fly" }
  const failed = certificates.filter((certificate) => (certificate.validationErrors ?? []).length > 0)
  if (failed.length > 0)
    return {
      ok: false,
      reason: Reasons.CertificateFailed,
      message: failed
        .map((certificate) =>
          (certificate.validationErrors ?? [])
            .map(
              (error) =>
                `${certificate.hostname}: ${error.code}: ${error.message}${error.remediation === undefined ? "" : ` (${error.remediation})`}`,
            )
            .join("; "),
        )
        .join("; "),
    }
  const limited = certificates.filter((certificate) => certificate.rateLimitedUntil !== undefined)
  if (limited.length > 0)
    return {
      ok: false,
      reason: Reasons.CertificateRateLimited,
      message: limited
        .map(
          (certificate) =>
            `${certificate.hostname}: Let's Encrypt's rate limit holds issuance until ${certificate.rateLimitedUntil}`,
        )
        .join("; "),
    }
  const pending = certificates.filter((certificate) => certificate.status !== "active")
  if (pending.length > 0)
    return { ok: false, reason: Reasons.CertificatePending, message: pending.map(dnsSteps).join("; ") }
  return {
    ok: true,
    reason: Reasons.CertificateActive,
    message: `certificates issued for ${certificates.map((certificate) => certificate.hostname).join(", ")}`,
  }
}

/** The conditions `Ready` sums up, in the order they are written. */
const PART_CONDITIONS = ["AppReady", "MachinesReady", "AddressReady", "ClientReady"] as const

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

/** frpc rolled out and, on every started Machine, Fly's check of every TCP port passing: bytes flow. */
const clientVerdict = (observations: Observations, started: ReadonlyArray<TunnelMachine>): Verdict => {
  if (observations.clientRolledOut !== true)
    return { ok: false, reason: Reasons.ClientDeploying, message: "waiting for the frpc Deployment to roll out" }
  const waiting = started.flatMap((entry) => {
    const ports = portsNotPassing(entry.machine, checkedPorts(entry, observations.spec))
    return ports.length === 0 ? [] : [`${entry.machine.id} (${slotKey(entry.slot)}): port ${ports.join(", ")}`]
  })
  if (started.length > 0 && waiting.length === 0)
    return { ok: true, reason: Reasons.ClientReady, message: "frpc is connected and every port is published" }
  return {
    ok: false,
    reason: Reasons.ClientDeploying,
    message:
      started.length === 0
        ? "frpc is running; waiting for its frps Machines to start"
        : `frpc is running; waiting for Fly's checks to pass on ${waiting.join("; ")}`,
  }
}

const verdicts = (observations: Observations): Record<(typeof PART_CONDITIONS)[number], Verdict> => {
  const machines = observations.machines ?? []
  const started = machines.filter((machine) => machine.machine.state === "started")
  return {
    AppReady:
      blockedFor(observations, "AppReady") ??
      (observations.app === undefined
        ? {
            ok: false,
            reason: Reasons.Provisioning,
            message:
              observations.appCreationQueued === true
                ? "in line to create the Fly App: Fly allows one App creation a second per org"
                : "creating the Fly App",
          }
        : observations.spec?.adopt === undefined
          ? { ok: true, reason: Reasons.AppCreated, message: `Fly App ${observations.app.name} is ready` }
          : {
              ok: true,
              reason: Reasons.AppAdopted,
              message: `Fly App ${observations.app.name} is taken over (spec.adopt) and keeps its IPv4 ${observations.spec.adopt.ipv4}`,
            }),
    MachinesReady:
      blockedFor(observations, "MachinesReady") ??
      unhealthyHosts(machines) ??
      rollingOut(machines) ??
      (machines.length > 0 && started.length === machines.length
        ? { ok: true, reason: Reasons.MachineStarted, message: `${started.length} frps Machine(s) started` }
        : {
            ok: false,
            reason: Reasons.MachineCreating,
            message: `${started.length} of ${machines.length || "the"} frps Machine(s) started`,
          }),
    AddressReady: blockedFor(observations, "AddressReady") ?? addressVerdict(observations),
    ClientReady: blockedFor(observations, "ClientReady") ?? clientVerdict(observations, started),
  }
}

/** A condition that keeps its transition time while its status stands. */
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

const appStatus = (observations: Observations, previous: FlyTunnelStatus["app"]): FlyTunnelStatus["app"] => {
  const app = observations.app
  if (app === undefined) return previous
  // The token the App holds: seen this time, or as recorded for this same App.
  const token =
    observations.token ??
    (previous?.id === app.id && previous.secretsVersion !== undefined && previous.tokenDigest !== undefined
      ? {
          secretsVersion: previous.secretsVersion,
          tokenDigest: previous.tokenDigest,
          ...(previous.tlsDigest === undefined ? {} : { tlsDigest: previous.tlsDigest }),
          ...(previous.cluster === undefined ? {} : { cluster: previous.cluster }),
        }
      : undefined)
  return {
    name: app.name,
    ...(app.network === undefined ? {} : { network: app.network }),
    id: app.id,
    ...(token === undefined ? {} : token),
  }
}

/** The status a reconcile writes. Whatever a step could not observe this time keeps its previous value. */
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
  const app = appStatus(observations, previous?.app)
  const spec = observations.spec
  const target = spec === undefined ? previous?.target : targetSummary(spec)
  const regions = spec === undefined ? previous?.regions : spec.regions.join(",")
  const targetAddress = observations.targetAddress ?? previous?.targetAddress
  const tls = observations.tls ?? previous?.tls
  const machines =
    observations.machines === undefined
      ? previous?.machines
      : observations.machines.map((entry) => ({
          id: entry.machine.id,
          region: entry.machine.region,
          ...(entry.slot.role === "udp" ? { role: "udp" as const } : {}),
          state: entry.machine.state,
          instanceId: entry.machine.instance_id,
          controlPort: entry.controlPort,
          upToDate: entry.current,
        }))
  // The IPv4 first: the printer column and the Service's first ingress show it.
  const addresses =
    observations.address === undefined
      ? previous?.addresses
      : [
          { ip: observations.address, type: "v4" as const },
          ...(observations.ipv6 === undefined ? [] : [{ ip: observations.ipv6, type: "v6" as const }]),
        ]
  const hostname = observations.app === undefined ? previous?.hostname : flyHostname(observations.app)
  // Kept when not looked at this time: they are also the record of which hostnames the tunnel added.
  const certificates = observations.certificates ?? previous?.certificates
  const wantsCertificates = (spec?.hostnames.length ?? previous?.certificates?.length ?? 0) > 0
  return {
    observedGeneration: observations.generation,
    phase,
    conditions: [
      condition("Ready", ready, observations.generation, before, now),
      ...PART_CONDITIONS.map((type) => condition(type, parts[type], observations.generation, before, now)),
      // Its own condition, not part of Ready: DNS must point at the published address before Fly can issue.
      ...(wantsCertificates
        ? [
            condition(
              "CertificatesReady",
              certificatesVerdict(observations, previous),
              observations.generation,
              before,
              now,
            ),
          ]
        : []),
    ],
    ...(hostname === undefined ? {} : { hostname }),
    ...(certificates === undefined || certificates.length === 0 ? {} : { certificates: [...certificates] }),
    ...(target === undefined ? {} : { target }),
    ...(regions === undefined ? {} : { regions }),
    ...(targetAddress === undefined ? {} : { targetAddress }),
    ...(app === undefined ? {} : { app }),
    ...(tls === undefined ? {} : { tls }),
    ...(machines === undefined ? {} : { machines }),
    ...(addresses === undefined ? {} : { addresses }),
  }
}

/** While teardown runs: phase Deleting, and the Ready condition says why it waits (the finalizer stays on failure). */
export const teardownStatus = (
  previous: FlyTunnelStatus | undefined,
  generation: number,
  failure: TunnelBlocked | undefined,
  now: string,
): FlyTunnelStatus => {
  const before = previous?.conditions ?? []
  const ready = condition(
    "Ready",
    failure === undefined
      ? {
          ok: false,
          reason: Reasons.Deleting,
          message: "tearing down frpc, the certificates, the IPs, the Machines and the App",
        }
      : { ok: false, reason: Reasons.DeleteFailed, message: failure.message },
    generation,
    before,
    now,
  )
  return {
    ...previous,
    phase: "Deleting",
    conditions: [ready, ...before.filter((existing) => existing.type !== "Ready")],
  }
}

export const isReady = (status: FlyTunnelStatus | undefined): boolean =>
  status?.conditions?.some((condition) => condition.type === "Ready" && condition.status === "True") ?? false
