import {
  type CertificateStatus,
  decodeFlyTunnel,
  FINALIZER,
  type FlyTunnelStatus,
  Reasons,
} from "@fly-tunnel-operator/api"
import { Duration, Effect, Option } from "effect"
import { done, type ReconcileResult, requeueAfter, retry } from "../controller/reconcileResult.ts"
import { EventRecorder } from "../kube/eventRecorder.ts"
import { KubeCache } from "../kube/kubeCache.ts"
import { addFinalizer } from "../kube/kubeClient.ts"
import { kubeTimeNow } from "../kube/kubeTime.ts"
import { FlyTunnel, parseKey } from "../kube/resourceType.ts"
import { CapacityBackoff } from "./capacityBackoff.ts"
import { ensureAddresses, publishedAddresses } from "./flyAddress.ts"
import { ensureFlyApp } from "./flyApp.ts"
import { certificateStatus, ensureCertificates, recordedHostnames } from "./flyCertificates.ts"
import { ensureMachines } from "./flyMachines.ts"
import { checkRegions } from "./flyRegions.ts"
import { ensureFlySecret } from "./flySecret.ts"
import { ensureClient } from "./frpcClient.ts"
import { invalidSpec, isTunnelBlocked, TunnelBlocked } from "./tunnelBlocked.ts"
import type { TunnelIdentity } from "./tunnelNames.ts"
import { newToken, readTunnelSecret, secretContent, writeTunnelSecret } from "./tunnelSecret.ts"
import { TunnelSettings } from "./tunnelSettings.ts"
import { isReady, type Observations, tunnelStatus } from "./tunnelStatus.ts"
import { writeTunnelStatus } from "./tunnelStatusWriter.ts"
import { resolveTarget } from "./tunnelTarget.ts"
import { finalizeTunnel } from "./tunnelTeardown.ts"

/** While provisioning, how soon to look again (Machines start and frpc connects within seconds). */
const PROGRESS_INTERVAL = "2 seconds"
/** While a certificate waits for its DNS, how often Fly is asked to check it again (see TunnelSettings). */
const CERTIFICATE_POLL: Duration.Input = "15 seconds"

interface CertificateEvent {
  readonly type: "Normal" | "Warning"
  readonly reason: string
  readonly message: string
}

/** Events for certificates that changed since the last status: issued, failed validation, rate limited. */
const certificateEvents = (
  before: FlyTunnelStatus | undefined,
  after: ReadonlyArray<CertificateStatus>,
): ReadonlyArray<CertificateEvent> =>
  after.flatMap((certificate): ReadonlyArray<CertificateEvent> => {
    const previous = before?.certificates?.find((entry) => entry.hostname === certificate.hostname)
    const errors = (certificate.validationErrors ?? []).map((error) => error.code).join(",")
    if (certificate.status === "active" && previous?.status !== "active")
      return [
        {
          type: "Normal",
          reason: Reasons.CertificateActive,
          message: `Fly's certificate for ${certificate.hostname} is active`,
        },
      ]
    if (errors !== "" && errors !== (previous?.validationErrors ?? []).map((error) => error.code).join(","))
      return [
        {
          type: "Warning",
          reason: Reasons.CertificateFailed,
          message: `Fly could not validate ${certificate.hostname}: ${(certificate.validationErrors ?? []).map((error) => `${error.code}: ${error.message}${error.remediation === undefined ? "" : ` (${error.remediation})`}`).join("; ")}`,
        },
      ]
    if (certificate.rateLimitedUntil !== undefined && previous?.rateLimitedUntil !== certificate.rateLimitedUntil)
      return [
        {
          type: "Warning",
          reason: Reasons.CertificateRateLimited,
          message: `Let's Encrypt's rate limit holds the certificate for ${certificate.hostname} until ${certificate.rateLimitedUntil}`,
        },
      ]
    return []
  })

/** Runs a step, turning its TunnelBlocked into an observation instead of a failure of the whole reconcile. */
const attempt = <A, E, R>(
  blocked: Array<TunnelBlocked>,
  step: Effect.Effect<A, E | TunnelBlocked, R>,
): Effect.Effect<Option.Option<A>, Exclude<E, TunnelBlocked>, R> =>
  step.pipe(
    Effect.map(Option.some),
    Effect.catchIf<E | TunnelBlocked, TunnelBlocked, Option.Option<A>, never, never>(isTunnelBlocked, (error) =>
      Effect.sync(() => {
        blocked.push(error)
        return Option.none<A>()
      }),
    ),
  )

/**
 * The Tunnel controller's reconcile: reads the FlyTunnel from the cache, converges Fly (App, token secret, Machines
 * and IPv4 in parallel) and the cluster (frpc), then writes what it saw as status. Every step looks before it
 * creates, so a crash or a lost answer at any point is repaired by the next pass without duplicates.
 */
export const reconcileTunnel = Effect.fn("reconcileTunnel")(function* (key: string) {
  const cache = yield* KubeCache
  const capacity = yield* CapacityBackoff
  const events = yield* EventRecorder
  const { namespace = "", name } = parseKey(key)
  const found = yield* cache.tunnels.get(name, namespace)
  if (Option.isNone(found)) return done
  let tunnel = found.value
  const identity: TunnelIdentity = { namespace, name, uid: tunnel.metadata?.uid ?? "" }
  if (tunnel.metadata?.deletionTimestamp !== undefined) return yield* finalizeTunnel(tunnel, identity)

  const generation = tunnel.metadata?.generation ?? 0
  const decoded = yield* Effect.result(decodeFlyTunnel(tunnel))
  if (decoded._tag === "Failure") {
    // Admission should have refused it; if not, say which field and provision nothing.
    const invalid = invalidSpec(decoded.failure.message)
    yield* writeTunnelStatus(
      tunnel,
      tunnelStatus({ generation, blocked: [invalid] }, tunnel.status, yield* kubeTimeNow),
    )
    yield* events.record(tunnel, { type: "Warning", reason: Reasons.InvalidSpec, message: invalid.message })
    return done
  }
  const spec = decoded.success.spec
  tunnel = yield* addFinalizer(FlyTunnel, tunnel, FINALIZER)

  // The token: kept while the Secret holds one; a missing or emptied one is replaced, and the new one is stored
  // before Fly or frpc ever see it.
  let secret = yield* readTunnelSecret(identity)
  const current = Option.map(secret, secretContent)
  const stored = Option.match(current, { onNone: () => "", onSome: (content) => content.token })
  const token = stored === "" ? newToken() : stored
  if (stored === "") {
    const configs = Option.match(current, { onNone: () => ({}), onSome: (content) => content.configs })
    secret = Option.some(yield* writeTunnelSecret(identity, secret, { token, configs }))
  }

  const blocked: Array<TunnelBlocked> = []
  // A region Fly does not have is refused before anything of the tunnel is created.
  const regionsKnown = yield* attempt(blocked, checkRegions(spec.regions))
  const app = Option.isSome(regionsKnown) ? yield* attempt(blocked, ensureFlyApp(identity)) : Option.none()
  let observations: Observations = { generation, spec, blocked, ...(Option.isSome(app) ? { app: app.value } : {}) }
  // After Fly had no capacity, the Machines wait their turn; what already runs keeps running.
  const capacityWait = yield* capacity.remaining(identity.uid)
  if (Option.isSome(app)) {
    const pushed = yield* attempt(blocked, ensureFlySecret(identity, token, app.value, tunnel.status?.app))
    const recorded = recordedHostnames(tunnel.status)
    const wantsCertificates = spec.hostnames.length > 0 || recorded.length > 0
    const [machines, [address, certificates]] = yield* Effect.all(
      [
        Option.isSome(pushed) && Option.isNone(capacityWait)
          ? attempt(blocked, ensureMachines(identity, spec, app.value, pushed.value))
          : Effect.succeedNone,
        Effect.gen(function* () {
          const found = yield* attempt(
            blocked,
            ensureAddresses(app.value, {
              ipv4: spec.ipv4,
              ipv6: spec.ipv6,
              published: publishedAddresses(tunnel.status),
            }),
          )
          // Certificates come right after the addresses (so Fly's DNS instructions name them) and never wait for the
          // tunnel to carry bytes: DNS can only be pointed at an address once it is published.
          const issued = wantsCertificates
            ? yield* attempt(blocked, ensureCertificates(app.value, { hostnames: spec.hostnames, recorded }))
            : Option.none()
          return [found, issued] as const
        }),
      ],
      { concurrency: 2 },
    )
    observations = {
      ...observations,
      ...(Option.isSome(certificates) ? { certificates: certificates.value.map(certificateStatus) } : {}),
      ...(Option.isSome(pushed) ? { token: pushed.value } : {}),
      ...(Option.isSome(machines) ? { machines: machines.value } : {}),
      ...(Option.isSome(address) ? { address: address.value.v4 } : {}),
      ...(Option.isSome(address) && address.value.v6 !== undefined ? { ipv6: address.value.v6 } : {}),
    }
    // frpc dials the dedicated IPv4; a shared one carries no raw TCP, so there it dials the IPv6 (the spec requires it).
    const serverAddress = Option.map(address, (found) => (spec.ipv4 === "shared" ? found.v6 : found.v4))
    if (Option.isSome(machines) && Option.isSome(serverAddress) && serverAddress.value !== undefined) {
      const target = yield* attempt(blocked, resolveTarget(namespace, spec))
      if (Option.isSome(target)) {
        const rolledOut = yield* ensureClient(
          identity,
          spec,
          { token, secret },
          serverAddress.value,
          machines.value,
          target.value,
        )
        observations = { ...observations, clientRolledOut: rolledOut }
      }
    }
  }

  // No capacity for a Machine: wait minutes (doubling, capped), not a retry storm, and say what waiting costs.
  const refused = blocked.findIndex((issue) => issue.reason === Reasons.FlyCapacity)
  const outOfCapacity = blocked[refused]
  const waiting = Option.isSome(capacityWait)
    ? capacityWait.value
    : outOfCapacity !== undefined
      ? yield* capacity.refused(identity.uid, outOfCapacity.message)
      : undefined
  if (waiting === undefined && observations.machines !== undefined) yield* capacity.cleared(identity.uid)
  if (waiting !== undefined) {
    const kept =
      observations.address === undefined
        ? ""
        : `; the dedicated IPv4 ${observations.address} is kept for it ($2/month) while it waits`
    const issue = new TunnelBlocked({
      condition: "MachinesReady",
      reason: Reasons.FlyCapacity,
      message: `${waiting.message}${kept}; next try in ${Duration.format(waiting.wait)} (another region or Machine size may have room)`,
      retry: true,
    })
    if (outOfCapacity === undefined) blocked.push(issue)
    else blocked[refused] = issue
  }
  const status = tunnelStatus(observations, tunnel.status, yield* kubeTimeNow)
  yield* writeTunnelStatus(tunnel, status)
  if (isReady(status) && !isReady(tunnel.status)) {
    yield* events.record(tunnel, {
      type: "Normal",
      reason: Reasons.Ready,
      message: `tunnel ready at ${observations.address}`,
    })
  }
  for (const issue of blocked)
    yield* events.record(tunnel, { type: "Warning", reason: issue.reason, message: issue.message })
  for (const event of certificateEvents(tunnel.status, observations.certificates ?? []))
    yield* events.record(tunnel, event)
  if (waiting !== undefined) return requeueAfter(waiting.wait)
  const soonest = Math.min(
    ...blocked.flatMap((issue) => (issue.retryAfterMillis === undefined ? [] : [issue.retryAfterMillis])),
  )
  if (Number.isFinite(soonest)) return requeueAfter(Duration.millis(soonest))
  if (blocked.some((issue) => issue.retry)) return retry
  // A certificate waiting for DNS (or for Let's Encrypt's rate limit) is looked at again until it is issued.
  const certificatePending = (status.certificates ?? []).some((certificate) => certificate.status !== "active")
  if (blocked.length > 0) return done
  if (isReady(status))
    return certificatePending ? requeueAfter((yield* TunnelSettings).certificatePoll ?? CERTIFICATE_POLL) : done
  return requeueAfter(PROGRESS_INTERVAL) satisfies ReconcileResult
})
