import { decodeFlyTunnelSpecResult, Labels } from "@fly-tunnel-operator/api"
import type { V1Deployment, V1Service } from "@kubernetes/client-node"
import { type Duration, Effect, Result } from "effect"
import * as Controller from "../controller/controller.ts"
import { retry } from "../controller/reconcileResult.ts"
import * as Source from "../controller/source.ts"
import type { Informer, InformerChange } from "../kube/informer.ts"
import { KubeCache } from "../kube/kubeCache.ts"
import { FieldManager } from "../kube/kubeClient.ts"
import { FieldManagers, sameJson } from "../kube/patches.ts"
import { type FlyTunnelObject, keyOf } from "../kube/resourceType.ts"
import { AppCreator } from "./appCreator.ts"
import { FlyProgress } from "./flyProgress.ts"
import { reportTunnelPhases } from "./tunnelMetrics.ts"
import { reconcileTunnel } from "./tunnelReconciler.ts"

export interface TunnelControllerOptions {
  readonly concurrency: number
  /** Drift check: every tunnel is reconciled this often even when nothing in the cluster changed. */
  readonly resync: Duration.Input
}

/**
 * The owner tunnel of an frpc Deployment, from its labels (owner references cannot cross namespaces). Only its
 * rollout (Updated) and its removal (Deleted) are news: its creation is the tunnel's own doing, and at start-up the
 * tunnels' own source lists every tunnel already (with this one too, a tunnel was reconciled twice after a restart).
 */
const tunnelOfDeployment = (change: InformerChange<V1Deployment>): ReadonlyArray<string> => {
  if (change.type === "Added") return []
  const labels = change.object.metadata?.labels ?? {}
  const namespace = labels[Labels.tunnelNamespace]
  const name = labels[Labels.tunnelName]
  return namespace === undefined || name === undefined ? [] : [`${namespace}/${name}`]
}

/**
 * A change of the tunnel the reconcile must see: its spec (generation) or the metadata it reads. The status this
 * controller writes itself is not one (controller-runtime's GenerationChangedPredicate, metadata kept): each write
 * would otherwise cost a pass and its Fly reads.
 */
const tunnelChanged = (change: InformerChange<FlyTunnelObject>): ReadonlyArray<string> => {
  if (change.type !== "Updated") return [keyOf(change.object)]
  const [before, after] = [change.old.metadata ?? {}, change.object.metadata ?? {}]
  const same =
    before.generation === after.generation &&
    sameJson(before.deletionTimestamp, after.deletionTimestamp) &&
    sameJson(before.finalizers, after.finalizers) &&
    sameJson(before.labels, after.labels) &&
    sameJson(before.annotations, after.annotations)
  return same ? [] : [keyOf(change.object)]
}

const targetServiceOf = (tunnel: FlyTunnelObject): string | undefined => {
  const spec = decodeFlyTunnelSpecResult(tunnel.spec)
  return Result.isSuccess(spec) ? spec.success.target.service?.name : undefined
}

/**
 * Tunnels that target a Service whose ClusterIP appeared, changed or went: frpc must dial the new one. Other changes
 * of a Service (its status, its annotations) do not concern the tunnels that target it.
 */
const tunnelsTargeting =
  (tunnels: Informer<FlyTunnelObject>) =>
  (change: InformerChange<V1Service>): Effect.Effect<ReadonlyArray<string>> => {
    if (change.type === "Updated" && change.old.spec?.clusterIP === change.object.spec?.clusterIP) {
      return Effect.succeed([])
    }
    const { name, namespace } = change.object.metadata ?? {}
    return Effect.map(tunnels.list(namespace), (candidates) =>
      candidates.filter((tunnel) => targetServiceOf(tunnel) === name).map(keyOf),
    )
  }

/** Reconciles each FlyTunnel, woken by the tunnel itself, its frpc Deployments, its target Service and Fly (FlyProgress). */
export const makeTunnelController = Effect.fn("makeTunnelController")(function* (options: TunnelControllerOptions) {
  const cache = yield* KubeCache
  const progress = yield* FlyProgress.make
  const creator = yield* AppCreator.make
  yield* Effect.forkScoped(cache.tunnels.synced.pipe(Effect.andThen(reportTunnelPhases(cache.tunnels))))
  return Controller.make({
    name: "tunnel",
    reconcile: (key: string) =>
      reconcileTunnel(key).pipe(
        Effect.catchTag("KubeConflict", () => Effect.succeed(retry)),
        Effect.provideService(FieldManager, FieldManagers.tunnel),
        Effect.provideService(FlyProgress, progress),
        Effect.provideService(AppCreator, creator),
      ),
    watches: [
      Source.fromInformer(cache.tunnels, tunnelChanged),
      Source.fromInformer(cache.deployments, tunnelOfDeployment),
      Source.fromInformerLookup(cache.services, tunnelsTargeting(cache.tunnels)),
      progress.source,
      creator.source,
    ],
    concurrency: options.concurrency,
    resync: options.resync,
  })
})
