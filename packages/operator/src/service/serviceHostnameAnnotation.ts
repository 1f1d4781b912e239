import { OperatorAnnotations } from "@fly-tunnel-operator/api"
import type { V1Service } from "@kubernetes/client-node"
import { Effect, Struct } from "effect"
import { KubeClient } from "../kube/kubeClient.ts"
import { Service } from "../kube/resourceType.ts"

/**
 * The Service's `fly-hostname` annotation (the operator's own): the tunnel's `<app>.fly.dev`, or none. It is not put in
 * `status.loadBalancer.ingress` beside the IPs: external-dns would make an A record and a CNAME for one name. A
 * server-side apply of that one key under the Service controller's field manager: the apply names nothing else, so no
 * other manager's annotation, label or spec field is touched, and an apply without the key removes it (server-side
 * apply drops what a manager stops applying). Skipped when the Service already shows what is wanted.
 */
export const writeFlyHostnameAnnotation = Effect.fn("writeFlyHostnameAnnotation")(function* (
  service: V1Service,
  hostname: string | undefined,
) {
  if (service.metadata?.annotations?.[OperatorAnnotations.flyHostname] === hostname) return service
  const kube = yield* KubeClient
  return yield* kube.apply(Service, {
    metadata: {
      // The uid makes the apply fail rather than touch (or create) a Service recreated under the same name.
      ...Struct.pick(service.metadata ?? {}, ["name", "namespace", "uid"]),
      ...(hostname === undefined ? {} : { annotations: { [OperatorAnnotations.flyHostname]: hostname } }),
    },
  })
})
