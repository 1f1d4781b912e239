import type { V1Deployment, V1PodList } from "@kubernetes/client-node"
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest"
import { eventually, OperatorHarness } from "./support/operatorHarness.ts"

/** The operator's namespace enforces Pod Security "restricted" on the real API server, as a careful cluster would. */
describe("frpc Pods under Pod Security 'restricted' (local control plane)", () => {
  const harness = new OperatorHarness({
    kubeconfigPath: inject("controlPlane").kubeconfigPath,
    tools: inject("tools"),
    machineRuntime: false,
    operatorNamespaceLabels: {
      "pod-security.kubernetes.io/enforce": "restricted",
      "pod-security.kubernetes.io/enforce-version": "latest",
    },
  })

  beforeAll(async () => {
    await harness.start()
    harness.startOperator()
  })
  afterAll(() => harness.stop())

  it("the Pods of the operator's frpc Deployments are admitted and run; a weakened one is refused", async () => {
    await harness.applyManifest({
      apiVersion: "fly-tunnel-operator.dev/v1alpha1",
      kind: "FlyTunnel",
      metadata: { name: "restricted", namespace: harness.namespace },
      spec: {
        target: { address: { host: "192.168.100.10" } },
        ports: [{ name: "http", port: 8080 }],
        regions: ["ord"],
        frpc: { replicas: 2 },
      },
    })
    // Ready needs the Deployment rolled out, i.e. both Pods admitted, created by the ReplicaSet and running.
    const pods = await eventually(
      "two running frpc Pods",
      async () => {
        const { stdout } = await harness.kubectl("get", "pods", "-n", harness.operatorNamespace, "-o", "json")
        const list = JSON.parse(stdout) as V1PodList
        const running = list.items.filter((pod) => pod.status?.phase === "Running")
        return running.length === 2 ? running : undefined
      },
      120_000,
    )
    expect(pods.map((pod) => pod.spec?.containers[0]?.name)).toEqual(["frpc", "frpc"])
    const { stdout: events } = await harness.kubectl(
      "get",
      "events",
      "-n",
      harness.operatorNamespace,
      "--field-selector",
      "reason=FailedCreate",
      "-o",
      "name",
    )
    expect(events.trim()).toBe("")

    // The namespace does enforce: the same Pod, weakened, is refused.
    const { stdout } = await harness.kubectl("get", "deployments", "-n", harness.operatorNamespace, "-o", "json")
    const [deployment] = (JSON.parse(stdout) as { items: Array<V1Deployment> }).items
    const template = deployment?.spec?.template.spec
    const pod = (spec: object) =>
      JSON.stringify({
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: "frpc-probe", namespace: harness.operatorNamespace },
        spec,
      })
    const dryRun = (spec: object) =>
      harness
        .kubectlInput(["create", "--dry-run=server", "-f", "-"], pod(spec))
        .then(() => "admitted")
        .catch((error: Error) => error.message)
    expect(await dryRun(template ?? {})).toBe("admitted")
    const weakened = {
      ...template,
      containers: (template?.containers ?? []).map((container) => ({
        ...container,
        securityContext: { ...container.securityContext, allowPrivilegeEscalation: true },
      })),
    }
    expect(await dryRun(weakened)).toContain('violates PodSecurity "restricted:latest"')
  })
})
