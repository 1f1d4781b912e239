import { Labels, MANAGED_BY } from "@fly-tunnel-operator/api"
import { type Duration, Effect } from "effect"
import * as Controller from "../controller/controller.ts"
import * as Source from "../controller/source.ts"
import * as ResourceWatch from "../kube/resourceWatch.ts"
import { type DeploymentObject, DeploymentType } from "./kubeObjects.ts"
import { reportTunnelPhases } from "./tunnelMetrics.ts"
import { FlyTunnelType, reconcileTunnel } from "./tunnelReconciler.ts"
import { TunnelSettings } from "./tunnelSettings.ts"

export interface TunnelControllerOptions {
  readonly concurrency: number
  /** Drift check: every tunnel is reconciled this often even when nothing in the cluster changed. */
  readonly resync: Duration.Input
}

/** The owner tunnel of an frpc Deployment, from its labels (owner references cannot cross namespaces). */
const tunnelKeyOf = (deployment: DeploymentObject): ReadonlyArray<string> => {
  const labels = deployment.metadata?.labels ?? {}
  const namespace = labels[Labels.tunnelNamespace]
  const name = labels[Labels.tunnelName]
  return namespace === undefined || name === undefined ? [] : [`${namespace}/${name}`]
}

/** Watches FlyTunnels and the frpc Deployments they own; reconciles each tunnel by key. */
export const makeTunnelController = Effect.fn("makeTunnelController")(function* (options: TunnelControllerOptions) {
  const settings = yield* TunnelSettings
  const tunnels = yield* ResourceWatch.make(FlyTunnelType)
  const deployments = yield* ResourceWatch.make(DeploymentType, {
    namespace: settings.operatorNamespace,
    labelSelector: `${Labels.managedBy}=${MANAGED_BY}`,
  })
  yield* Effect.forkScoped(tunnels.synced.pipe(Effect.andThen(reportTunnelPhases(tunnels))))
  return Controller.make({
    name: "tunnel",
    reconcile: reconcileTunnel,
    watches: [Source.fromWatch(tunnels), Source.fromWatch(deployments, tunnelKeyOf)],
    concurrency: options.concurrency,
    resync: options.resync,
  })
})
