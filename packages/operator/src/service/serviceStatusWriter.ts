import type { V1Service } from "@kubernetes/client-node"
import { Effect, Struct } from "effect"
import { KubeClient } from "../kube/kubeClient.ts"
import { sameJson } from "../kube/patches.ts"
import { Service } from "../kube/resourceType.ts"
import { type OwnedServiceStatus, ownedStatusOf } from "./serviceStatus.ts"

/**
 * The Service controller's one status writer: a server-side apply of the fields it owns (its ingress and its
 * conditions) under its field manager, so other controllers' conditions are left alone; skipped when nothing changed.
 */
export const writeServiceStatus = Effect.fn("writeServiceStatus")(function* (
  service: V1Service,
  owned: OwnedServiceStatus,
) {
  if (sameJson(ownedStatusOf(service), owned)) return service
  const kube = yield* KubeClient
  return yield* kube.applyStatus(Service, {
    metadata: Struct.pick(service.metadata ?? {}, ["name", "namespace", "uid"]),
    status: {
      loadBalancer: owned.ingress === undefined ? {} : { ingress: [...owned.ingress] },
      conditions: [owned.condition, owned.sourceRanges].filter((condition) => condition !== undefined),
    },
  })
})
