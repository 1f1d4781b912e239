import { writeFile } from "node:fs/promises"
import { join } from "node:path"
import type { CoreV1Api, KubeConfig, V1Pod } from "@kubernetes/client-node"
import { renderKubeconfig } from "../controlPlane/kubeconfig.ts"

/** A token of the Pod's ServiceAccount, bound to the Pod (TokenRequest), as the kubelet asks for one. */
export const podServiceAccountToken = async (
  core: CoreV1Api,
  pod: V1Pod,
  options: { readonly expirationSeconds?: number; readonly audiences?: ReadonlyArray<string> } = {},
): Promise<string> => {
  const namespace = pod.metadata?.namespace ?? "default"
  const account = pod.spec?.serviceAccountName ?? "default"
  const request = await core.createNamespacedServiceAccountToken({
    namespace,
    name: account,
    body: {
      spec: {
        audiences: [...(options.audiences ?? [])],
        expirationSeconds: options.expirationSeconds ?? 24 * 60 * 60,
        boundObjectRef: { apiVersion: "v1", kind: "Pod", name: pod.metadata?.name ?? "", uid: pod.metadata?.uid ?? "" },
      },
    },
  })
  const token = request.status?.token
  if (token === undefined) throw new Error(`TokenRequest for ${namespace}/${account} returned no token`)
  return token
}

/**
 * What the kubelet's projected service-account volume gives a Pod, as a kubeconfig file (a process has no mount
 * namespace to see /var/run/secrets/kubernetes.io/serviceaccount): a token of the Pod's ServiceAccount, bound to the
 * Pod (the API server refuses it once the Pod is gone), and the cluster's address and CA. Returns its path.
 */
export const serviceAccountKubeconfigFor = async (
  core: CoreV1Api,
  cluster: KubeConfig,
  pod: V1Pod,
  dir: string,
): Promise<string> => {
  const namespace = pod.metadata?.namespace ?? "default"
  const account = pod.spec?.serviceAccountName ?? "default"
  const token = await podServiceAccountToken(core, pod)
  const server = cluster.getCurrentCluster()
  if (server?.caData === undefined) throw new Error("the node agent's kubeconfig has no inline cluster CA")
  const path = join(dir, "serviceaccount.kubeconfig")
  await writeFile(
    path,
    renderKubeconfig({
      server: server.server,
      caPem: Buffer.from(server.caData, "base64").toString("utf8"),
      user: `system:serviceaccount:${namespace}:${account}`,
      credentials: { token },
    }),
    { mode: 0o600 },
  )
  return path
}
