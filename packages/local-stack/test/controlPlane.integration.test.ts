import { execFile } from "node:child_process"
import { randomBytes } from "node:crypto"
import { promisify } from "node:util"
import { AppsV1Api, CoreV1Api, KubeConfig, type V1Deployment } from "@kubernetes/client-node"
import { describe, expect, inject, it } from "vitest"

const controlPlane = inject("controlPlane")
const tools = inject("tools")

const kubeConfig = new KubeConfig()
kubeConfig.loadFromFile(controlPlane.kubeconfigPath)
const core = kubeConfig.makeApiClient(CoreV1Api)
const apps = kubeConfig.makeApiClient(AppsV1Api)

const unique = (prefix: string) => `${prefix}-${randomBytes(4).toString("hex")}`
const poll = { timeout: 60_000, interval: 200 }

const kubectl = async (...args: Array<string>) =>
  (await promisify(execFile)(tools.kubectl, ["--kubeconfig", controlPlane.kubeconfigPath, ...args])).stdout

const createNamespace = async () => {
  const name = unique("cp-test")
  await core.createNamespace({ body: { metadata: { name } } })
  return name
}

const deployment = (name: string, nodeSelector: Record<string, string>): V1Deployment => ({
  metadata: { name },
  spec: {
    replicas: 2,
    selector: { matchLabels: { app: name } },
    template: {
      metadata: { labels: { app: name } },
      spec: { nodeSelector, containers: [{ name: "main", image: "registry.invalid/none:1" }] },
    },
  },
})

const podsOf = async (namespace: string, app: string) =>
  (await core.listNamespacedPod({ namespace, labelSelector: `app=${app}` })).items

describe("local control plane", () => {
  it("serves client-node and the real kubectl from the same kubeconfig", async () => {
    const namespace = await createNamespace()
    const seen = JSON.parse(await kubectl("get", "namespace", namespace, "-o", "json"))
    expect(seen.metadata.name).toBe(namespace)
    expect(seen.status.phase).toBe("Active")
  })

  it("allocates ClusterIPs from the service CIDR", async () => {
    const namespace = await createNamespace()
    const service = await core.createNamespacedService({
      namespace,
      body: { metadata: { name: "web" }, spec: { ports: [{ port: 80 }], selector: { app: "web" } } },
    })
    const [a, b] = controlPlane.serviceCidr.split(".")
    expect(service.spec?.clusterIP).toMatch(new RegExp(`^${a}\\.${b}\\.`))
  })

  it("runs the Deployment and ReplicaSet controllers and the scheduler", async () => {
    const namespace = await createNamespace()
    const nodeName = unique("fake-node")
    const nodeLabel = { "testkit.fly-tunnel-operator.dev/node": nodeName }
    await core.createNode({ body: { metadata: { name: nodeName, labels: nodeLabel } } })
    const resources = { cpu: "4", memory: "8Gi", pods: "110" }
    await core.replaceNodeStatus({
      name: nodeName,
      body: {
        metadata: { name: nodeName, labels: nodeLabel },
        status: {
          capacity: resources,
          allocatable: resources,
          conditions: [
            {
              type: "Ready",
              status: "True",
              reason: "KubeletReady",
              lastHeartbeatTime: new Date(),
              lastTransitionTime: new Date(),
            },
          ],
        },
      },
    })
    try {
      await apps.createNamespacedDeployment({ namespace, body: deployment("web", nodeLabel) })

      await expect
        .poll(async () => (await apps.listNamespacedReplicaSet({ namespace, labelSelector: "app=web" })).items, poll)
        .toHaveLength(1)
      await expect
        .poll(async () => (await podsOf(namespace, "web")).map((pod) => pod.spec?.nodeName), poll)
        .toEqual([nodeName, nodeName])
    } finally {
      await core.deleteNode({ name: nodeName })
    }
  })

  it("garbage-collects a deleted Deployment's ReplicaSet and Pods", async () => {
    const namespace = await createNamespace()
    // Pods that stay unscheduled are deleted at once; bound ones would wait for a kubelet.
    await apps.createNamespacedDeployment({ namespace, body: deployment("gc", { "testkit.invalid/no-such": "node" }) })
    await expect.poll(async () => (await podsOf(namespace, "gc")).length, poll).toBe(2)
    const [replicaSet] = (await apps.listNamespacedReplicaSet({ namespace, labelSelector: "app=gc" })).items
    expect(replicaSet?.metadata?.ownerReferences?.[0]?.kind).toBe("Deployment")

    await apps.deleteNamespacedDeployment({ namespace, name: "gc" })

    await expect
      .poll(async () => (await apps.listNamespacedReplicaSet({ namespace, labelSelector: "app=gc" })).items, poll)
      .toEqual([])
    await expect.poll(async () => await podsOf(namespace, "gc"), poll).toEqual([])
  })
})
