// Where the operator finds its cluster, as kubectl does: the files in $KUBECONFIG, else ~/.kube/config, else the
// Pod's service account.
import { existsSync } from "node:fs"
import { homedir } from "node:os"
import { delimiter, join } from "node:path"
import { Effect } from "effect"
import { inClusterEndpoint, isInCluster, SERVICE_ACCOUNT_DIR } from "./inClusterEndpoint.ts"
import { KubeconfigError } from "./kubeconfigError.ts"
import { endpointOf, mergeKubeconfigs, readKubeconfigFile } from "./kubeconfigFile.ts"
import type { KubeEndpoint } from "./kubeEndpoint.ts"

/** The endpoint of one kubeconfig file's current context. */
export const loadKubeconfigFile = (path: string): Effect.Effect<KubeEndpoint, KubeconfigError> =>
  readKubeconfigFile(path).pipe(Effect.flatMap(endpointOf))

export interface DefaultSources {
  readonly env: NodeJS.ProcessEnv
  readonly home: string
  readonly serviceAccountDir: string
}

/** $KUBECONFIG (files that do not exist are skipped, as kubectl does), ~/.kube/config, or in-cluster. */
export const loadDefaultEndpoint = (
  sources: DefaultSources = { env: process.env, home: homedir(), serviceAccountDir: SERVICE_ACCOUNT_DIR },
): Effect.Effect<KubeEndpoint, KubeconfigError> =>
  Effect.gen(function* () {
    const listed = (sources.env.KUBECONFIG ?? "").split(delimiter).filter((path) => path !== "")
    const files = listed.length > 0 ? listed.filter((path) => existsSync(path)) : []
    if (files.length > 0) {
      const configs = yield* Effect.forEach(files, readKubeconfigFile)
      return yield* endpointOf(mergeKubeconfigs(configs))
    }
    const home = join(sources.home, ".kube", "config")
    if (listed.length === 0 && existsSync(home)) return yield* loadKubeconfigFile(home)
    if (isInCluster(sources.env, sources.serviceAccountDir))
      return yield* inClusterEndpoint(sources.env, sources.serviceAccountDir)
    return yield* new KubeconfigError({
      source: listed.length > 0 ? listed.join(delimiter) : home,
      problem:
        listed.length > 0
          ? "none of the files in KUBECONFIG exists, and this is not a Pod with a service account"
          : "no kubeconfig found and this is not a Pod with a service account: set KUBECONFIG or --kubeconfig",
    })
  })
