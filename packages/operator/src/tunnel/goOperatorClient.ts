// The Go operator's frpc: one Deployment `frpc-<ns>-<svc>` and its ConfigMap `<deployment>-config` (key frpc.toml) in
// the Go operator's namespace, labelled app.kubernetes.io/name=frpc. Once its App is adopted it dials a Machine that is
// gone (or ours, which refuses it: it has no token), so it goes. It is recognised by the address it dials — the
// adopted IPv4 — never by a name a Service annotation gives, so no other Deployment can be named into deletion.
import { Labels, MANAGED_BY, Reasons } from "@fly-tunnel-operator/api"
import { frpcServerOf } from "@fly-tunnel-operator/frp"
import { Effect, Option } from "effect"
import { KubeClient } from "../kube/kubeClient.ts"
import type { KubeError } from "../kube/kubeErrors.ts"
import { ConfigMap, Deployment } from "../kube/resourceType.ts"
import { TunnelBlocked } from "./tunnelBlocked.ts"
import { TunnelSettings } from "./tunnelSettings.ts"

/** The labels the Go operator put on its frpc ConfigMaps and Deployments. */
const GO_FRPC_SELECTOR = `app.kubernetes.io/name=frpc,${Labels.managedBy}=${MANAGED_BY}`

/**
 * Deletes the Go operator's frpc Deployments and ConfigMaps that dial `ipv4`, and answers their names (none when
 * already gone). A Deployment of ours (it has a tunnel label) is never touched.
 */
export const removeGoOperatorClient = Effect.fn("removeGoOperatorClient")(
  function* (ipv4: string) {
    const kube = yield* KubeClient
    const { goOperatorNamespace: namespace } = yield* TunnelSettings
    // From the API server, not a cache: another operator's objects, looked for only until an adopting tunnel is Ready.
    const configMaps = (yield* kube.list(ConfigMap, { namespace, labelSelector: GO_FRPC_SELECTOR })).items.filter(
      (configMap) => {
        const server = frpcServerOf(configMap.data?.["frpc.toml"] ?? "")
        return Option.isSome(server) && server.value.addr === ipv4
      },
    )
    if (configMaps.length === 0) return []
    const names = new Set(configMaps.map((configMap) => configMap.metadata?.name))
    const deployments = (yield* kube.list(Deployment, { namespace, labelSelector: GO_FRPC_SELECTOR })).items.filter(
      (deployment) =>
        deployment.metadata?.labels?.[Labels.tunnelUid] === undefined &&
        (deployment.spec?.template.spec?.volumes ?? []).some((volume) => names.has(volume.configMap?.name)),
    )
    const removed: Array<string> = []
    // The client before its config, as the Go operator's own teardown did.
    for (const deployment of deployments) {
      const name = deployment.metadata?.name ?? ""
      yield* kube.delete(Deployment, name, namespace).pipe(Effect.catchTag("KubeNotFound", () => Effect.void))
      removed.push(`Deployment ${namespace}/${name}`)
    }
    for (const configMap of configMaps) {
      const name = configMap.metadata?.name ?? ""
      yield* kube.delete(ConfigMap, name, namespace).pipe(Effect.catchTag("KubeNotFound", () => Effect.void))
      removed.push(`ConfigMap ${namespace}/${name}`)
    }
    return removed
  },
  Effect.mapError(
    (error: KubeError) =>
      new TunnelBlocked({
        condition: "ClientReady",
        reason: Reasons.ClientDeploying,
        message: `removing the Go operator's frpc (it dials the adopted address) failed: ${error.message}; the operator needs get, list and delete on Deployments and ConfigMaps in that namespace (the chart's adoption.goOperatorNamespace)`,
        retry: true,
      }),
  ),
)
