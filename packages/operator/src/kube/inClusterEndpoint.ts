// The Pod's own access to the API server, as client-go's rest.InClusterConfig: the kubernetes Service's address from
// the environment the kubelet sets, the service account's CA and its token (read again when the kubelet rotates it).
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { Effect } from "effect"
import { tokenFromFile } from "./bearerToken.ts"
import { KubeconfigError } from "./kubeconfigError.ts"
import type { KubeEndpoint } from "./kubeEndpoint.ts"

export const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"

/** Whether this process runs in a Pod with a service account: the environment and the token are there. */
export const isInCluster = (env: NodeJS.ProcessEnv, serviceAccountDir = SERVICE_ACCOUNT_DIR): boolean => {
  if (!env.KUBERNETES_SERVICE_HOST || !env.KUBERNETES_SERVICE_PORT) return false
  try {
    readFileSync(join(serviceAccountDir, "token"))
    return true
  } catch {
    return false
  }
}

export const inClusterEndpoint = (
  env: NodeJS.ProcessEnv,
  serviceAccountDir = SERVICE_ACCOUNT_DIR,
): Effect.Effect<KubeEndpoint, KubeconfigError> =>
  Effect.gen(function* () {
    const host = env.KUBERNETES_SERVICE_HOST ?? ""
    const port = env.KUBERNETES_SERVICE_PORT ?? ""
    if (host === "" || port === "")
      return yield* new KubeconfigError({
        source: "in-cluster",
        problem: "KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set: run in a Pod, or give a kubeconfig",
      })
    const caPath = join(serviceAccountDir, "ca.crt")
    const ca = yield* Effect.try({
      try: () => readFileSync(caPath),
      catch: (cause) =>
        new KubeconfigError({
          source: "in-cluster",
          problem: `cannot read the service account's CA ${caPath}: ${cause instanceof Error ? cause.message : cause}`,
        }),
    })
    const token = tokenFromFile(join(serviceAccountDir, "token"))
    yield* token.pipe(Effect.mapError((error) => new KubeconfigError({ source: "in-cluster", problem: error.message })))
    return {
      server: `https://${host.includes(":") ? `[${host}]` : host}:${port}`,
      tls: { ca, rejectUnauthorized: true },
      token,
    } satisfies KubeEndpoint
  })
