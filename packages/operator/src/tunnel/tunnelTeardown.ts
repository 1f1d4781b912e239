import { type Adopt, Annotations, FINALIZER, Labels, Reasons } from "@fly-tunnel-operator/api"
import { FlyClient, type FlyError } from "@fly-tunnel-operator/fly"
import { Effect, Option } from "effect"
import { done, type ReconcileResult, retry } from "../controller/reconcileResult.ts"
import { EventRecorder } from "../kube/eventRecorder.ts"
import { KubeCache } from "../kube/kubeCache.ts"
import { KubeClient, readFresh, removeFinalizer } from "../kube/kubeClient.ts"
import type { KubeError } from "../kube/kubeErrors.ts"
import { kubeTimeNow } from "../kube/kubeTime.ts"
import { Deployment, FlyTunnel, type FlyTunnelObject, Secret } from "../kube/resourceType.ts"
import { adoptOf } from "./appAdoption.ts"
import { markedForTunnel } from "./clusterMark.ts"
import { RolloutGate } from "./machineRollout.ts"
import { TunnelBlocked } from "./tunnelBlocked.ts"
import { flyAppName, flyNetworkName, frpcObjectName, MachineMetadata, type TunnelIdentity } from "./tunnelNames.ts"
import { TunnelSettings } from "./tunnelSettings.ts"
import { teardownStatus } from "./tunnelStatus.ts"
import { writeTunnelStatus } from "./tunnelStatusWriter.ts"

/** Deletes the tunnel's frpc Deployments (waiting for their Pods) and its Secret. Already gone is fine. */
export const removeFrpc = Effect.fn("removeFrpc")(function* (tunnelUid: string) {
  const kube = yield* KubeClient
  const cache = yield* KubeCache
  const settings = yield* TunnelSettings
  const deployments = (yield* cache.deployments.list(settings.operatorNamespace)).filter(
    (deployment) => deployment.metadata?.labels?.[Labels.tunnelUid] === tunnelUid,
  )
  yield* Effect.forEach(
    deployments,
    (deployment) =>
      kube
        .delete(Deployment, deployment.metadata?.name ?? "", settings.operatorNamespace, {
          propagationPolicy: "Foreground",
        })
        .pipe(Effect.catchTag("KubeNotFound", () => Effect.void)),
    { discard: true },
  )
  yield* kube
    .delete(Secret, frpcObjectName({ uid: tunnelUid }), settings.operatorNamespace)
    .pipe(Effect.catchTag("KubeNotFound", () => Effect.void))
})

/**
 * Deletes a tunnel's App in reverse: its certificates, the IPs, the Machines, then the App. A 404 means already gone.
 * An App of that name on another network is not the tunnel's and is never touched; nor is an App named in spec.adopt
 * that does not carry the tunnel's mark (it was never taken over: it stays whoever's it was). Once the App is the
 * tunnel's, every certificate on it goes (deleting the App would take them anyway; removing them first is what is
 * counted).
 */
export const removeFlyApp = Effect.fn("removeFlyApp")(function* (appName: string, tunnelUid: string, adopted = false) {
  const fly = yield* FlyClient
  const app = yield* fly.getApp(appName).pipe(Effect.catchTag("FlyNotFound", () => Effect.succeed(undefined)))
  if (app === undefined) return
  const ours = adopted
    ? markedForTunnel(
        yield* fly.listSecrets(appName).pipe(Effect.catchTag("FlyNotFound", () => Effect.succeed([]))),
        tunnelUid,
      )
    : app.network === flyNetworkName({ uid: tunnelUid })
  if (!ours) return
  const certificates = yield* fly
    .listCertificates(appName)
    .pipe(Effect.catchTag("FlyNotFound", () => Effect.succeed([])))
  yield* Effect.forEach(
    certificates,
    (certificate) =>
      fly.deleteCertificate(appName, certificate.hostname).pipe(Effect.catchTag("FlyNotFound", () => Effect.void)),
    { discard: true },
  )
  const ips = yield* fly.listIpAssignments(appName).pipe(Effect.catchTag("FlyNotFound", () => Effect.succeed([])))
  yield* Effect.forEach(
    ips,
    (ip) => fly.deleteIpAssignment(appName, ip.ip).pipe(Effect.catchTag("FlyNotFound", () => Effect.void)),
    { discard: true },
  )
  const machines = yield* fly
    .listMachines(appName, { metadata: { [MachineMetadata.tunnelUid]: tunnelUid } })
    .pipe(Effect.catchTag("FlyNotFound", () => Effect.succeed([])))
  yield* Effect.forEach(
    machines,
    (machine) => fly.deleteMachine(appName, machine.id).pipe(Effect.catchTag("FlyNotFound", () => Effect.void)),
    { concurrency: "unbounded", discard: true },
  )
  yield* fly.deleteApp(appName).pipe(Effect.catchTag("FlyNotFound", () => Effect.void))
})

/**
 * Tears a tunnel down in reverse: frpc, then everything on Fly. Any failure other than "already gone" stops here (and
 * keeps the finalizer): nothing is leaked silently.
 */
export const teardownTunnel = Effect.fn("teardownTunnel")(
  function* (tunnel: TunnelIdentity, adopt: Adopt | undefined) {
    yield* removeFrpc(tunnel.uid)
    yield* removeFlyApp(adopt?.app ?? flyAppName(tunnel), tunnel.uid, adopt !== undefined)
  },
  Effect.mapError(
    (error: FlyError | KubeError) =>
      new TunnelBlocked({
        condition: "Ready",
        reason: Reasons.DeleteFailed,
        message: `teardown stopped: ${"endpoint" in error ? `Fly API ${error.endpoint}: ` : ""}${error.message}`,
        retry: true,
      }),
  ),
)

/**
 * A FlyTunnel being deleted: status says Deleting, everything is torn down, then the finalizer goes. A failed
 * teardown keeps the finalizer and says why, unless `force-delete` asks to let go anyway.
 */
export const finalizeTunnel = Effect.fn("finalizeTunnel")(function* (
  tunnel: FlyTunnelObject,
  identity: TunnelIdentity,
): Effect.fn.Return<
  ReconcileResult,
  KubeError,
  KubeClient | KubeCache | FlyClient | TunnelSettings | EventRecorder | RolloutGate
> {
  if (!(tunnel.metadata?.finalizers ?? []).includes(FINALIZER)) return done
  // A fresh read, not the cache: right after this finalizer goes, the cache can still hold the tunnel with it, and a
  // second teardown from that stale copy would go on changing Fly after force-delete let the tunnel go.
  const fresh = Option.getOrUndefined(
    yield* readFresh(FlyTunnel, tunnel.metadata?.name ?? "", tunnel.metadata?.namespace),
  )
  if (
    fresh === undefined ||
    fresh.metadata?.uid !== tunnel.metadata?.uid ||
    !(fresh.metadata?.finalizers ?? []).includes(FINALIZER)
  )
    return done
  tunnel = fresh
  const events = yield* EventRecorder
  const generation = tunnel.metadata?.generation ?? 0
  const current = yield* writeTunnelStatus(
    tunnel,
    teardownStatus(tunnel.status, generation, undefined, yield* kubeTimeNow),
  )
  const outcome = yield* Effect.result(teardownTunnel(identity, adoptOf(tunnel)))
  if (outcome._tag === "Failure") {
    const force = tunnel.metadata?.annotations?.[Annotations.forceDelete] === "true"
    yield* events.record(tunnel, {
      type: "Warning",
      reason: Reasons.DeleteFailed,
      message: force
        ? `${outcome.failure.message}; ${Annotations.forceDelete} is set, so the finalizer is removed anyway and Fly resources may remain`
        : outcome.failure.message,
    })
    if (!force) {
      yield* writeTunnelStatus(current, teardownStatus(current.status, generation, outcome.failure, yield* kubeTimeNow))
      return retry
    }
  }
  yield* (yield* RolloutGate).leave(identity.uid)
  yield* removeFinalizer(FlyTunnel, current, FINALIZER).pipe(Effect.catchTag("KubeNotFound", () => Effect.void))
  return done
})
