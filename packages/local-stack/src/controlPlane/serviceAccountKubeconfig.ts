import { writeFile } from "node:fs/promises"
import { join } from "node:path"
import { CoreV1Api, KubeConfig } from "@kubernetes/client-node"
import type { ControlPlaneEndpoint } from "./controlPlane.ts"
import { renderKubeconfig } from "./kubeconfig.ts"

/**
 * Writes a kubeconfig that acts as ServiceAccount `namespace/name` (a bound token from the
 * TokenRequest API, valid for a day), so a process runs with exactly the RBAC granted to it.
 * The ServiceAccount must exist. Returns the file's path (inside the control plane's `dir`).
 */
export const serviceAccountKubeconfig = async (
  controlPlane: ControlPlaneEndpoint,
  namespace: string,
  name: string,
): Promise<string> => {
  const admin = new KubeConfig()
  admin.loadFromFile(controlPlane.kubeconfigPath)
  const tokenRequest = await admin.makeApiClient(CoreV1Api).createNamespacedServiceAccountToken({
    namespace,
    name,
    body: { spec: { audiences: [], expirationSeconds: 24 * 60 * 60 } },
  })
  const token = tokenRequest.status?.token
  if (token === undefined) throw new Error(`TokenRequest for ${namespace}/${name} returned no token`)
  const path = join(controlPlane.dir, "kubeconfigs", `sa-${namespace}-${name}.kubeconfig`)
  await writeFile(
    path,
    renderKubeconfig({
      server: controlPlane.server,
      caPem: controlPlane.caPem,
      user: `system:serviceaccount:${namespace}:${name}`,
      credentials: { token },
    }),
    { mode: 0o600 },
  )
  return path
}
