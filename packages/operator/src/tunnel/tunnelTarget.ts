import { type FlyTunnelSpec, Reasons } from "@fly-tunnel-operator/api"
import { Effect } from "effect"
import { KubeClient } from "../kube/kubeClient.ts"
import { ServiceType } from "./kubeObjects.ts"
import { TunnelBlocked } from "./tunnelBlocked.ts"

const targetNotFound = (message: string) =>
  new TunnelBlocked({ condition: "ClientReady", reason: Reasons.TargetNotFound, message, retry: true })

/** The address frpc dials: the target Service's ClusterIP (no DNS, no cluster-domain guess) or the address host. */
export const resolveTarget = Effect.fn("resolveTarget")(function* (namespace: string, spec: FlyTunnelSpec) {
  if (spec.target.address !== undefined) return spec.target.address.host
  const name = spec.target.service?.name ?? ""
  const kube = yield* KubeClient
  const service = yield* kube
    .get(ServiceType, name, namespace)
    .pipe(
      Effect.catchTag("KubeNotFound", () =>
        Effect.fail(targetNotFound(`Service ${namespace}/${name} (spec.target.service.name) does not exist`)),
      ),
    )
  const clusterIP = service.spec?.clusterIP
  if (clusterIP === undefined || clusterIP === "" || clusterIP === "None") {
    return yield* targetNotFound(`Service ${namespace}/${name} has no ClusterIP (headless Services cannot be a target)`)
  }
  return clusterIP
})
