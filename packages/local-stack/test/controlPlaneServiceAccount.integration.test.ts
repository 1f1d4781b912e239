import { randomBytes } from "node:crypto"
import { CoreV1Api, KubeConfig, RbacAuthorizationV1Api } from "@kubernetes/client-node"
import { expect, inject, it } from "vitest"
import { serviceAccountKubeconfig } from "../src/controlPlane/serviceAccountKubeconfig.ts"

const controlPlane = inject("controlPlane")

const clientsFor = (kubeconfigPath: string) => {
  const kubeConfig = new KubeConfig()
  kubeConfig.loadFromFile(kubeconfigPath)
  return { core: kubeConfig.makeApiClient(CoreV1Api), rbac: kubeConfig.makeApiClient(RbacAuthorizationV1Api) }
}

it("mints a kubeconfig that has exactly a ServiceAccount's RBAC", async () => {
  const admin = clientsFor(controlPlane.kubeconfigPath)
  const namespace = `sa-test-${randomBytes(4).toString("hex")}`
  await admin.core.createNamespace({ body: { metadata: { name: namespace } } })
  await admin.core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: "reader" } } })
  await admin.rbac.createNamespacedRole({
    namespace,
    body: {
      metadata: { name: "configmap-reader" },
      rules: [{ apiGroups: [""], resources: ["configmaps"], verbs: ["get", "list"] }],
    },
  })
  await admin.rbac.createNamespacedRoleBinding({
    namespace,
    body: {
      metadata: { name: "reader" },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "configmap-reader" },
      subjects: [{ kind: "ServiceAccount", name: "reader", namespace }],
    },
  })

  const reader = clientsFor(await serviceAccountKubeconfig(controlPlane, namespace, "reader"))

  // The controller-manager publishes the cluster CA into every namespace.
  await expect
    .poll(async () => (await reader.core.listNamespacedConfigMap({ namespace })).items.map((c) => c.metadata?.name), {
      timeout: 60_000,
    })
    .toContain("kube-root-ca.crt")
  await expect(reader.core.listNamespacedSecret({ namespace })).rejects.toMatchObject({ code: 403 })
  await expect(reader.core.listNamespacedConfigMap({ namespace: "default" })).rejects.toMatchObject({ code: 403 })
})
