import { decodeFlyTunnel, FINALIZER, Reasons } from "@fly-tunnel-operator/api"
import { Effect, Option } from "effect"
import { done, type ReconcileResult, requeueAfter, retry } from "../controller/reconcileResult.ts"
import { EventRecorder } from "../kube/eventRecorder.ts"
import { KubeCache } from "../kube/kubeCache.ts"
import { addFinalizer } from "../kube/kubeClient.ts"
import { kubeTimeNow } from "../kube/kubeTime.ts"
import { FlyTunnel, parseKey } from "../kube/resourceType.ts"
import { ensureAddress } from "./flyAddress.ts"
import { ensureFlyApp } from "./flyApp.ts"
import { ensureMachines } from "./flyMachines.ts"
import { ensureFlySecret } from "./flySecret.ts"
import { ensureClient } from "./frpcClient.ts"
import { checkFrpsCertificates } from "./frpsCertificateCheck.ts"
import { invalidSpec, isTunnelBlocked, type TunnelBlocked } from "./tunnelBlocked.ts"
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
  const app = yield* attempt(blocked, ensureFlyApp(identity))
  let observations: Observations = {
    generation,
    spec,
    blocked,
    certificates: credentials.certificates,
    ...(Option.isSome(app) ? { app: app.value } : {}),
  }
  if (Option.isSome(app)) {
    const pushed = yield* attempt(blocked, ensureFlySecret(token, tls, app.value, tunnel.status?.app))
    const [machines, address] = yield* Effect.all(
      [
        Option.isSome(pushed)
          ? attempt(blocked, ensureMachines(identity, spec, app.value, pushed.value, tls.trustPem))
          : Effect.succeedNone,
        attempt(blocked, ensureAddress(app.value)),
      ],
      { concurrency: 2 },
    )
    observations = {
      ...observations,
      ...(Option.isSome(pushed) ? { token: pushed.value } : {}),
      ...(Option.isSome(machines) ? { machines: machines.value } : {}),
      ...(Option.isSome(address) ? { address: address.value } : {}),
    }
    if (Option.isSome(machines) && Option.isSome(address)) {
      const target = yield* attempt(blocked, resolveTarget(namespace, spec, verdict.targetAddress))
      if (Option.isSome(target)) {
        const rolledOut = yield* ensureClient(identity, spec, credentials, address.value, machines.value, target.value)
        // frpc runs but is not seen by Fly: if its certificate check is why, say so.
        if (rolledOut) yield* attempt(blocked, checkFrpsCertificates(identity, address.value, machines.value, tls))
        observations = { ...observations, targetAddress: target.value, clientRolledOut: rolledOut }
      }
    }
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
  if (blocked.some((issue) => issue.retry)) return retry
  if (blocked.length > 0 || isReady(status)) return done
  return requeueAfter(PROGRESS_INTERVAL) satisfies ReconcileResult
})
