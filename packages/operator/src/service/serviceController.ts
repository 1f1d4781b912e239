import { Effect } from "effect"
import * as Controller from "../controller/controller.ts"
import * as Source from "../controller/source.ts"
import { keyOf } from "../kube/resourceType.ts"
import * as ResourceWatch from "../kube/resourceWatch.ts"
import { ServiceType, TunnelType } from "./serviceObjects.ts"
import { reconcileService } from "./serviceReconciler.ts"

/** Watches Services and FlyTunnels; a tunnel's change reconciles the Service of the same name. */
export const makeServiceController = Effect.fn("makeServiceController")(function* (options: {
  readonly concurrency: number
}) {
  const services = yield* ResourceWatch.make(ServiceType)
  const tunnels = yield* ResourceWatch.make(TunnelType)
  return Controller.make({
    name: "service",
    reconcile: reconcileService,
    watches: [Source.fromWatch(services), Source.fromWatch(tunnels, (tunnel) => [keyOf(tunnel)])],
    concurrency: options.concurrency,
  })
})
