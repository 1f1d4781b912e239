import { FINALIZER } from "@fly-tunnel-operator/api"
import type { V1Service } from "@kubernetes/client-node"
import { Effect } from "effect"
import { FieldManager, KubeClient, removeFinalizer } from "../kube/kubeClient.ts"
import { FieldManagers } from "../kube/patches.ts"
import { keyOf, Service } from "../kube/resourceType.ts"
import { writeFlyHostnameAnnotation } from "../service/serviceHostnameAnnotation.ts"
import { releasedServiceStatus } from "../service/serviceStatus.ts"
import { writeServiceStatus } from "../service/serviceStatusWriter.ts"

/** Ours to release: it holds our finalizer and names our class, or no class at all any more. */
const releasable = (service: V1Service, loadBalancerClass: string): boolean =>
  (service.metadata?.finalizers ?? []).includes(FINALIZER) &&
  (service.spec?.loadBalancerClass === undefined || service.spec.loadBalancerClass === loadBalancerClass)

/**
 * What the Service controller does when a Service stops being ours, for every Service at once once the operator is
 * gone: its ingress, condition and `fly-hostname` annotation are removed (server-side apply under the controller's own
 * field manager, so nothing else on the Service changes) and its finalizer is dropped, so a later `kubectl delete svc`
 * does not hang. The Service itself and its class stay: a new install serves it again.
 */
export const releaseServices = Effect.fn("releaseServices")(function* (loadBalancerClass: string) {
  const kube = yield* KubeClient
  const { items } = yield* kube.list(Service)
  const released: Array<string> = []
  for (const service of items.filter((item) => releasable(item, loadBalancerClass))) {
    const release = Effect.gen(function* () {
      const current = yield* kube.get(Service, service.metadata?.name ?? "", service.metadata?.namespace)
      const written = yield* writeServiceStatus(current, releasedServiceStatus)
      const unannotated = yield* writeFlyHostnameAnnotation(written, undefined)
      yield* removeFinalizer(Service, unannotated, FINALIZER)
    }).pipe(
      // A concurrent write (another client) makes the conditional finalizer patch fail: read again and retry.
      Effect.retry({ times: 3, while: (error) => error._tag === "KubeConflict" }),
      Effect.catchTag("KubeNotFound", () => Effect.void),
      Effect.provideService(FieldManager, FieldManagers.service),
    )
    yield* release
    released.push(keyOf(service))
  }
  return released
})
