import type { V1Service } from "@kubernetes/client-node"
import { Effect } from "effect"
import * as Controller from "../controller/controller.ts"
import { retry } from "../controller/reconcileResult.ts"
import * as Source from "../controller/source.ts"
import type { InformerChange } from "../kube/informer.ts"
import { KubeCache } from "../kube/kubeCache.ts"
import { FieldManager } from "../kube/kubeClient.ts"
import { FieldManagers } from "../kube/patches.ts"
import { type FlyTunnelObject, keyOf } from "../kube/resourceType.ts"
import { isManagedService } from "./serviceClass.ts"
import { reconcileService } from "./serviceReconciler.ts"
import { ServiceSettings } from "./serviceSettings.ts"

/** The Service a FlyTunnel belongs to, from its controller reference (a tunnel written by hand has none). */
const ownerService = (change: InformerChange<FlyTunnelObject>): ReadonlyArray<string> => {
  const metadata = change.object.metadata
  const owner = metadata?.ownerReferences?.find(
    (ref) => ref.kind === "Service" && ref.apiVersion === "v1" && ref.controller === true,
  )
  return owner === undefined ? [] : [`${metadata?.namespace}/${owner.name}`]
}

/**
 * Watches Services and FlyTunnels. A change of a Service that is not ours (and holds no finalizer of ours) is
 * dropped at the event: no reconcile, no API call, whatever else runs in the cluster.
 */
export const makeServiceController = Effect.fn("makeServiceController")(function* (options: {
  readonly concurrency: number
}) {
  const cache = yield* KubeCache
  const settings = yield* ServiceSettings
  const managed = (change: InformerChange<V1Service>) =>
    isManagedService(change.object, settings.loadBalancerClass) ||
    (change.type === "Updated" && isManagedService(change.old, settings.loadBalancerClass))
  return Controller.make({
    name: "service",
    reconcile: (key: string) =>
      reconcileService(key).pipe(
        Effect.catchTag("KubeConflict", () => Effect.succeed(retry)),
        Effect.provideService(FieldManager, FieldManagers.service),
      ),
    watches: [
      Source.fromInformer(cache.services, (change) => (managed(change) ? [keyOf(change.object)] : [])),
      Source.fromInformer(cache.tunnels, ownerService),
    ],
    concurrency: options.concurrency,
  })
})
