import { decodeFlyTunnelSpecResult, Labels } from "@fly-tunnel-operator/api"
import type { V1Deployment, V1Service } from "@kubernetes/client-node"
import { type Duration, Effect, Result } from "effect"
import * as Controller from "../controller/controller.ts"
import { retry } from "../controller/reconcileResult.ts"
import * as Source from "../controller/source.ts"
import type { Informer, InformerChange } from "../kube/informer.ts"
import { KubeCache } from "../kube/kubeCache.ts"
import { FieldManager } from "../kube/kubeClient.ts"
import { FieldManagers } from "../kube/patches.ts"
import { type FlyTunnelObject, keyOf } from "../kube/resourceType.ts"
import { reportTunnelPhases } from "./tunnelMetrics.ts"
import { reconcileTunnel } from "./tunnelReconciler.ts"

export interface TunnelControllerOptions {
  readonly concurrency: number
  /** Drift check: every tunnel is reconciled this often even when nothing in the cluster changed. */
  readonly resync: Duration.Input
}

/** The owner tunnel of an frpc Deployment, from its labels (owner references cannot cross namespaces). */
const tunnelOfDeployment = (change: InformerChange<V1Deployment>): ReadonlyArray<string> => {
  const labels = change.object.metadata?.labels ?? {}
  const namespace = labels[Labels.tunnelNamespace]
  const name = labels[Labels.tunnelName]
  return namespace === undefined || name === undefined ? [] : [`${namespace}/${name}`]
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

/** Reconciles each FlyTunnel, woken by the tunnel itself, its frpc Deployments and its target Service. */
export const makeTunnelController = Effect.fn("makeTunnelController")(function* (options: TunnelControllerOptions) {
  const cache = yield* KubeCache
  yield* Effect.forkScoped(cache.tunnels.synced.pipe(Effect.andThen(reportTunnelPhases(cache.tunnels))))
  return Controller.make({
    name: "tunnel",
    reconcile: (key: string) =>
      reconcileTunnel(key).pipe(
        Effect.catchTag("KubeConflict", () => Effect.succeed(retry)),
        Effect.provideService(FieldManager, FieldManagers.tunnel),
      ),
    watches: [
      Source.fromInformer(cache.tunnels),
      Source.fromInformer(cache.deployments, tunnelOfDeployment),
      Source.fromInformerLookup(cache.services, tunnelsTargeting(cache.tunnels)),
    ],
    concurrency: options.concurrency,
    resync: options.resync,
  })
})
