import { type FlyTunnelSpec, Reasons } from "@fly-tunnel-operator/api"
import { Effect, Option } from "effect"
import { KubeCache } from "../kube/kubeCache.ts"
import { TunnelBlocked } from "./tunnelBlocked.ts"

const targetNotFound = (message: string) =>
  new TunnelBlocked({ condition: "ClientReady", reason: Reasons.TargetNotFound, message, retry: true })

/** The target for display: `svc/<name>` or the address host. */
export const targetSummary = (spec: FlyTunnelSpec): string =>
  spec.target.service !== undefined ? `svc/${spec.target.service.name}` : (spec.target.address?.host ?? "")

/**
 * The address frpc dials: the target Service's ClusterIP (no DNS, no cluster-domain guess), or for an address target
 * the address the tunnel policy checked (`pinned`).
 */
export const resolveTarget = Effect.fn("resolveTarget")(function* (
  namespace: string,
  spec: FlyTunnelSpec,
  pinned: string | undefined,
) {
  if (spec.target.address !== undefined) return pinned ?? spec.target.address.host
  const name = spec.target.service?.name ?? ""
  const cache = yield* KubeCache
  const service = yield* cache.services.get(name, namespace)
  if (Option.isNone(service)) {
    return yield* targetNotFound(`Service ${namespace}/${name} (spec.target.service.name) does not exist`)
  }
  const clusterIP = service.value.spec?.clusterIP
  if (clusterIP === undefined || clusterIP === "" || clusterIP === "None") {
    return yield* targetNotFound(`Service ${namespace}/${name} has no ClusterIP (headless Services cannot be a target)`)
  }
  return clusterIP
})
