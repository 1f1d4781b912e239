import { decodeFlyTunnel, FINALIZER, Reasons } from "@fly-tunnel-operator/api"
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
import { ensureMachines } from "./flyMachines.ts"
import { checkRegions } from "./flyRegions.ts"
import { ensureFlySecret } from "./flySecret.ts"
import { ensureClient } from "./frpcClient.ts"
import { checkFrpsCertificates } from "./frpsCertificateCheck.ts"
import { invalidSpec, isTunnelBlocked, TunnelBlocked } from "./tunnelBlocked.ts"
import { ensureTunnelCredentials } from "./tunnelCredentials.ts"
import { haltTunnel } from "./tunnelHalt.ts"
import type { TunnelIdentity } from "./tunnelNames.ts"
import { checkTunnelPolicy, isRefused } from "./tunnelPolicyCheck.ts"
import { isReady, type Observations, tunnelStatus } from "./tunnelStatus.ts"
import { writeTunnelStatus } from "./tunnelStatusWriter.ts"
import { resolveTarget } from "./tunnelTarget.ts"
import { finalizeTunnel } from "./tunnelTeardown.ts"

/** While provisioning, how soon to look again (Machines start and frpc connects within seconds). */
const PROGRESS_INTERVAL = "2 seconds"

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
  // The cluster's policy, before anything is created (no finalizer either: a refused new tunnel owns nothing).
  const verdict = yield* checkTunnelPolicy(namespace, spec, tunnel.status?.targetAddress)
  if (isRefused(verdict)) {
    return yield* haltTunnel(tunnel, identity, spec, verdict.blocked, { stopClients: verdict.addressRefused })
  }
  tunnel = yield* addFinalizer(FlyTunnel, tunnel, FINALIZER)

  // The token and the certificates, made whole and stored before Fly or frpc ever see them.
  const credentials = yield* ensureTunnelCredentials(identity).pipe(Effect.catchTag("TunnelBlocked", Effect.succeed))
  if (isTunnelBlocked(credentials))
    return yield* haltTunnel(tunnel, identity, spec, credentials, { stopClients: false })
  const { token, tls } = credentials

  const blocked: Array<TunnelBlocked> = []
  // A region Fly does not have is refused before anything of the tunnel is created.
  const regionsKnown = yield* attempt(blocked, checkRegions(spec.regions))
  const app = Option.isSome(regionsKnown) ? yield* attempt(blocked, ensureFlyApp(identity)) : Option.none()
  let observations: Observations = {
    generation,
    spec,
    blocked,
    certificates: credentials.certificates,
    ...(Option.isSome(app) ? { app: app.value } : {}),
  }
  // After Fly had no capacity, the Machines wait their turn; what already runs keeps running.
  const capacityWait = yield* capacity.remaining(identity.uid)
  if (Option.isSome(app)) {
    const pushed = yield* attempt(blocked, ensureFlySecret(identity, token, tls, app.value, tunnel.status?.app))
    const [machines, address] = yield* Effect.all(
      [
        Option.isSome(pushed) && Option.isNone(capacityWait)
          ? attempt(blocked, ensureMachines(identity, spec, app.value, pushed.value, tls.trustPem))
          : Effect.succeedNone,
        attempt(blocked, ensureAddresses(app.value, { ipv6: spec.ipv6, published: publishedAddresses(tunnel.status) })),
      ],
      { concurrency: 2 },
    )
    observations = {
      ...observations,
      ...(Option.isSome(pushed) ? { token: pushed.value } : {}),
      ...(Option.isSome(machines) ? { machines: machines.value } : {}),
      ...(Option.isSome(address) ? { address: address.value.v4 } : {}),
      ...(Option.isSome(address) && address.value.v6 !== undefined ? { ipv6: address.value.v6 } : {}),
    }
    if (Option.isSome(machines) && Option.isSome(address)) {
      const target = yield* attempt(blocked, resolveTarget(namespace, spec, verdict.targetAddress))
      if (Option.isSome(target)) {
        const rolledOut = yield* ensureClient(
          identity,
          spec,
          credentials,
          address.value.v4,
          machines.value,
          target.value,
        )
        // frpc runs but is not seen by Fly: if its certificate check is why, say so.
        if (rolledOut) yield* attempt(blocked, checkFrpsCertificates(identity, address.value.v4, machines.value, tls))
        observations = { ...observations, targetAddress: target.value, clientRolledOut: rolledOut }
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
  if (waiting !== undefined) return requeueAfter(waiting.wait)
  const soonest = Math.min(
    ...blocked.flatMap((issue) => (issue.retryAfterMillis === undefined ? [] : [issue.retryAfterMillis])),
  )
  if (Number.isFinite(soonest)) return requeueAfter(Duration.millis(soonest))
  if (blocked.some((issue) => issue.retry)) return retry
  if (blocked.length > 0 || isReady(status)) return done
  return requeueAfter(PROGRESS_INTERVAL) satisfies ReconcileResult
})
