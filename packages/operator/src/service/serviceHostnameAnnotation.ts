import { OperatorAnnotations } from "@fly-tunnel-operator/api"
import type { V1Service } from "@kubernetes/client-node"
import { Effect } from "effect"
import { KubeClient } from "../kube/kubeClient.ts"
import { Service } from "../kube/resourceType.ts"

/**
 * The Service's `fly-hostname` annotation (the operator's own): the tunnel's `<app>.fly.dev`, or none. It is not put in
 * `status.loadBalancer.ingress` beside the IPs: external-dns would make an A record and a CNAME for one name. A merge
 * patch of that one key, only when it differs, so the Service's other annotations and its spec are never written.
 */
export const writeFlyHostnameAnnotation = Effect.fn("writeFlyHostnameAnnotation")(function* (
  service: V1Service,
  hostname: string | undefined,
) {
  if (service.metadata?.annotations?.[OperatorAnnotations.flyHostname] === hostname) return service
  const kube = yield* KubeClient
  return yield* kube.mergePatch(Service, service.metadata?.name ?? "", service.metadata?.namespace, {
    metadata: {
      // The uid makes the patch fail rather than touch a Service recreated under the same name.
      uid: service.metadata?.uid,
      annotations: { [OperatorAnnotations.flyHostname]: hostname ?? null },
    },
  })
})
