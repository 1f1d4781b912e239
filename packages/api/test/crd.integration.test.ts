import { execFile } from "node:child_process"
import { randomBytes } from "node:crypto"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import { CoreV1Api, CustomObjectsApi, KubeConfig } from "@kubernetes/client-node"
import { beforeAll, describe, expect, inject, it, vi } from "vitest"
import { API_VERSION, CRD_NAME, CRD_PATH, GROUP, KIND, PLURAL, VERSION } from "../src/index.ts"
import { invalidSpecs, validSpecs } from "./examples.ts"

const { kubeconfigPath } = inject("controlPlane")
const tools = inject("tools")
const kubeConfig = new KubeConfig()
kubeConfig.loadFromFile(kubeconfigPath)
const kubectl = async (...args: Array<string>) =>
  (await promisify(execFile)(tools.kubectl, ["--kubeconfig", kubeconfigPath, ...args])).stdout
const crdFile = fileURLToPath(new URL(`../../../${CRD_PATH}`, import.meta.url))
const core = kubeConfig.makeApiClient(CoreV1Api)
const objects = kubeConfig.makeApiClient(CustomObjectsApi)

const namespace = `crd-${randomBytes(4).toString("hex")}`
let counter = 0
const tunnel = (spec: unknown) => ({
  apiVersion: API_VERSION,
  kind: KIND,
  metadata: { name: `t${counter++}` },
  spec,
})

const create = (spec: unknown) =>
  objects.createNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    namespace,
    plural: PLURAL,
    body: tunnel(spec),
  })

/** The API server's refusal text (client-node puts the Status body in the error message). */
const refusal = async (promise: Promise<unknown>): Promise<string> => {
  try {
    await promise
  } catch (error) {
    return String(error instanceof Error ? error.message : error)
  }
  throw new Error("the API server accepted it")
}

/** Installs the committed CRD file the way users do (client-node's typed CRD model drops x-kubernetes-* keys). */
const installCrd = async () => {
  await kubectl("apply", "--server-side", "--force-conflicts", "-f", crdFile)
  await kubectl("wait", "--for=condition=Established", `crd/${CRD_NAME}`, "--timeout=60s")
  // Established can precede the REST endpoint by a moment: wait until a list answers.
  await vi.waitFor(
    () => objects.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: "default", plural: PLURAL }),
    { timeout: 60_000, interval: 200 },
  )
}

describe("FlyTunnel CRD on a real API server", () => {
  beforeAll(async () => {
    await installCrd()
    await core.createNamespace({ body: { metadata: { name: namespace } } })
  })

  for (const [name, spec] of Object.entries(validSpecs)) {
    it(`accepts ${name}`, async () => {
      const created = (await create(spec)) as { spec: { machineSize: string; frpc: { replicas: number } } }
      expect(created.spec.machineSize).toBeTypeOf("string")
      expect(created.spec.frpc.replicas).toBeGreaterThanOrEqual(1)
    })
  }

  it("applies the schema's defaults", async () => {
    const created = (await create({
      target: { service: { name: "web" } },
      ports: [{ name: "http", port: 80 }],
      regions: ["ord"],
    })) as { spec: Record<string, unknown> }
    expect(created.spec).toEqual({
      target: { service: { name: "web" } },
      ports: [{ name: "http", port: 80, protocol: "TCP", proxyProtocol: "none", edge: "none" }],
      regions: ["ord"],
      machineSize: "shared-cpu-1x",
      frpc: { replicas: 1 },
      ipv6: true,
      ipv4: "dedicated",
      hostnames: [],
    })
  })

  for (const [name, spec, field, admissionField] of invalidSpecs) {
    const named = admissionField ?? field
    it(`rejects ${name}, naming ${named}`, async () => {
      const message = await refusal(create(spec))
      expect(message).toContain("is invalid")
      expect(message).toContain(named)
    })
  }

  it("rejects switching the target between service and address, and allows renaming it", async () => {
    const created = (await create(validSpecs.serviceTarget)) as { metadata: { name: string } }
    const name = created.metadata.name
    const patch = (target: unknown) =>
      objects.patchNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        namespace,
        plural: PLURAL,
        name,
        body: [{ op: "replace", path: "/spec/target", value: target }],
      })
    const message = await refusal(patch({ address: { host: "192.0.2.1" } }))
    expect(message).toContain("spec.target")
    expect(message).toContain("cannot switch between service and address")
    const renamed = (await patch({ service: { name: "other" } })) as { spec: { target: unknown } }
    expect(renamed.spec.target).toEqual({ service: { name: "other" } })
  })

  it("keeps adopt as it was created: it cannot be added, changed or removed", async () => {
    const patch = (name: string, operation: object) =>
      objects.patchNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        namespace,
        plural: PLURAL,
        name,
        body: [operation],
      })
    const plain = (await create(validSpecs.serviceTarget)) as { metadata: { name: string } }
    const added = await refusal(
      patch(plain.metadata.name, { op: "add", path: "/spec/adopt", value: validSpecs.adopting.adopt }),
    )
    expect(added).toContain("spec.adopt")
    expect(added).toContain("cannot be added, changed or removed")
    const adopting = (await create(validSpecs.adopting)) as { metadata: { name: string } }
    const changed = await refusal(
      patch(adopting.metadata.name, { op: "replace", path: "/spec/adopt/ipv4", value: "203.0.113.8" }),
    )
    expect(changed).toContain("cannot be added, changed or removed")
    const removed = await refusal(patch(adopting.metadata.name, { op: "remove", path: "/spec/adopt" }))
    expect(removed).toContain("cannot be added, changed or removed")
    // Any other field still changes.
    const resized = (await patch(adopting.metadata.name, {
      op: "replace",
      path: "/spec/machineSize",
      value: "shared-cpu-2x",
    })) as { spec: { machineSize: string; adopt: unknown } }
    expect(resized.spec).toMatchObject({ machineSize: "shared-cpu-2x", adopt: validSpecs.adopting.adopt })
  })

  it("rejects names longer than a label value", async () => {
    const message = await refusal(
      objects.createNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        namespace,
        plural: PLURAL,
        body: { ...tunnel(validSpecs.serviceTarget), metadata: { name: "x".repeat(64) } },
      }),
    )
    expect(message).toContain("metadata.name must be at most 63 characters")
  })

  it("has a status subresource and printer columns showing target, address, regions and readiness", async () => {
    const created = (await create(validSpecs.addressTarget)) as { metadata: { name: string } }
    const name = created.metadata.name
    await objects.patchNamespacedCustomObjectStatus({
      group: GROUP,
      version: VERSION,
      namespace,
      plural: PLURAL,
      name,
      body: [
        {
          op: "add",
          path: "/status",
          value: {
            phase: "Ready",
            // The display fields the operator writes (its status function is unit-tested for them).
            target: "192.0.2.10",
            regions: "ord,ams",
            addresses: [
              { ip: "203.0.113.9", type: "v4" },
              { ip: "2001:db8::9", type: "v6" },
            ],
            conditions: [
              {
                type: "Ready",
                status: "True",
                lastTransitionTime: "2026-01-01T00:00:00Z",
                reason: "Ready",
                message: "ok",
              },
            ],
          },
        },
      ],
    })
    // `kubectl get ft -o wide` is what users see: short name and server-side printer columns.
    const lines = (await kubectl("get", "ft", name, "-n", namespace, "-o", "wide")).trim().split("\n")
    const [header, row] = lines.map((line) => line.split(/\s{2,}/))
    expect(header).toEqual(["NAME", "TARGET", "ADDRESS", "IPV6", "REGIONS", "READY", "PHASE", "AGE"])
    const cell = (column: string) => row?.[header?.indexOf(column) ?? -1] ?? ""
    // Text, not JSON: `192.0.2.10`, not `{"host":"192.0.2.10"}`; `ord,ams`, not `["ord","ams"]`.
    expect(cell("TARGET")).toBe("192.0.2.10")
    expect(cell("ADDRESS")).toBe("203.0.113.9")
    expect(cell("IPV6")).toBe("2001:db8::9")
    expect(cell("REGIONS")).toBe("ord,ams")
    expect(cell("READY")).toBe("True")
    expect(cell("PHASE")).toBe("Ready")
  })

  it("documents fields for kubectl explain", async () => {
    const text = await kubectl("explain", "flytunnels.spec.ports.proxyProtocol")
    expect(text).toContain("PROXY protocol header")
  })
})
