import { Effect } from "effect"
import { KubeClient } from "../kube/kubeClient.ts"
import { Namespace } from "../kube/resourceType.ts"
import { isEmptySelector } from "./labelSelector.ts"
import { namespaceProblem, type PolicyProblem } from "./tenantLimits.ts"
import { TunnelPolicy } from "./tunnelPolicy.ts"

/**
 * Whether tunnels may live in `namespace` (chart value `tenants.namespaceSelector`). The Namespace is read only when
 * a selector is set; one that is gone has no labels (its tunnels are being deleted anyway).
 */
export const namespacePolicyProblem = Effect.fn("namespacePolicyProblem")(function* (namespace: string) {
  const limits = (yield* TunnelPolicy).tenants
  if (isEmptySelector(limits.namespaceSelector)) return undefined
  const kube = yield* KubeClient
  // Read from the API server, not a cache: only installs with a selector need Namespaces, and one get when a tunnel or
  // Service is judged costs less than a watch and a store of every Namespace in the cluster.
  const labels = yield* kube.get(Namespace, namespace).pipe(
    Effect.map((found) => found.metadata?.labels ?? {}),
    Effect.catchTag("KubeNotFound", () => Effect.succeed({})),
  )
  return namespaceProblem(namespace, labels, limits) satisfies PolicyProblem | undefined
})
