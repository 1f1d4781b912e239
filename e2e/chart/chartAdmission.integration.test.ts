import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { inject } from "vitest"
import { addressTunnel, admissionOf, installAdmissionPolicy, tunnel } from "./admissionPolicy.ts"
import { toolsOrFail } from "./chart.ts"
import { makeKubectl, scopedNamespace } from "./kubectl.ts"

const tools = toolsOrFail()
const { kubeconfigPath } = inject("controlPlane")
const kubectl = makeKubectl(tools.kubectl, kubeconfigPath)
const installPolicy = (values: object, namespaces: ReadonlyArray<string>) =>
  installAdmissionPolicy(kubectl, tools.helm, values, namespaces)
const admission = (manifest: string) => admissionOf(kubectl, manifest)

describe("the chart's admission policy on a real kube-apiserver", () => {
  it.live("refuses address targets outside the policy, naming the field and the rule", () =>
    Effect.gen(function* () {
      const namespace = yield* scopedNamespace(kubectl, "fto-adm")
      yield* installPolicy(
        { addressTargets: { allowedHostnames: ["lan.example.com"], refusedCIDRs: ["10.96.0.0/12"] } },
        [namespace],
      )
      const refusals: Record<string, string> = {
        "127.0.0.1": "spec.target.address.host: 127.0.0.1 is loopback, which is never published",
        "::1": "spec.target.address.host: ::1 is loopback, which is never published",
        "169.254.169.254":
          "spec.target.address.host: 169.254.169.254 is link-local (cloud metadata services answer on 169.254.169.254), which is never published",
        "fe80::1": "spec.target.address.host: fe80::1 is link-local, which is never published",
        "0.0.0.0": "spec.target.address.host: 0.0.0.0 is unspecified, which is never published",
        "224.0.0.1": "spec.target.address.host: 224.0.0.1 is multicast, which is never published",
        "10.96.0.1":
          "spec.target.address.host: 10.96.0.1 is in 10.96.0.0/12, which this cluster refuses (chart value addressTargets.refusedCIDRs)",
        "8.8.8.8":
          "spec.target.address.host: 8.8.8.8 is outside the ranges address targets may use (chart value addressTargets.allowedCIDRs: 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, fc00::/7)",
        "kubernetes.default.svc":
          "spec.target.address.host: kubernetes.default.svc is a cluster or node-local name (localhost, *.svc, *.cluster.local), which is never published",
        "db.ns.svc.cluster.local": "spec.target.address.host: db.ns.svc.cluster.local is a cluster or node-local name",
        localhost: "spec.target.address.host: localhost is a cluster or node-local name",
        "db.example.com":
          "spec.target.address.host: db.example.com matches none of the host names address targets may use (chart value addressTargets.allowedHostnames: lan.example.com)",
      }
      for (const [host, message] of Object.entries(refusals)) {
        const refusal = yield* admission(addressTunnel(namespace, host))
        expect(refusal, host).toContain(message)
        expect(refusal, host).toContain("denied request")
      }
      for (const host of ["192.168.1.20", "10.1.2.3", "fd00::5", "nas.lan.example.com", "lan.example.com"]) {
        expect(yield* admission(addressTunnel(namespace, host)), host).toBeUndefined()
      }
      // Service targets are not address targets.
      expect(yield* admission(tunnel(namespace, "svc", { target: { service: { name: "web" } } }))).toBeUndefined()
    }),
  )

  it.live("refuses every address target when they are disabled", () =>
    Effect.gen(function* () {
      const namespace = yield* scopedNamespace(kubectl, "fto-adm")
      yield* installPolicy({ addressTargets: { enabled: false } }, [namespace])
      expect(yield* admission(addressTunnel(namespace, "192.168.1.20"))).toContain(
        "spec.target.address: address targets are disabled in this cluster (chart value addressTargets.enabled is false)",
      )
      expect(yield* admission(tunnel(namespace, "svc", { target: { service: { name: "web" } } }))).toBeUndefined()
    }),
  )

  it.live("holds tenants to their sizes, regions, replicas, scheduling and namespaces", () =>
    Effect.gen(function* () {
      const allowed = yield* scopedNamespace(kubectl, "fto-adm", { tunnels: "yes" })
      const other = yield* scopedNamespace(kubectl, "fto-adm")
      yield* installPolicy(
        {
          flyMachineSize: "shared-cpu-1x",
          tenants: {
            machineSizes: ["shared-cpu-1x", "shared-cpu-2x"],
            regions: ["ord", "ams"],
            maxRegions: 2,
            maxFrpcReplicas: 2,
            allowFrpcScheduling: false,
            namespaceSelector: { matchLabels: { tunnels: "yes" } },
          },
        },
        [allowed, other],
      )
      const service = { target: { service: { name: "web" } } }
      const cases: ReadonlyArray<readonly [object, string]> = [
        [
          { machineSize: "performance-8x" },
          "spec.machineSize: performance-8x is not allowed here (chart value tenants.machineSizes: shared-cpu-1x, shared-cpu-2x)",
        ],
        [
          { regions: ["ord", "ams", "fra"] },
          "spec.regions: 3 regions, at most 2 allowed here (chart value tenants.maxRegions)",
        ],
        [{ regions: ["ord", "sin"] }, "spec.regions: sin not allowed here (chart value tenants.regions: ord, ams)"],
        [
          { frpc: { replicas: 3 } },
          "spec.frpc.replicas: 3, at most 2 allowed here (chart value tenants.maxFrpcReplicas)",
        ],
        [
          { frpc: { nodeSelector: { disk: "ssd" } } },
          "spec.frpc.nodeSelector, spec.frpc.tolerations: tunnels may not place frpc here (chart value tenants.allowFrpcScheduling is false)",
        ],
      ]
      for (const [spec, message] of cases) {
        expect(yield* admission(tunnel(allowed, "t", { ...service, ...spec })), message).toContain(message)
      }
      expect(
        yield* admission(tunnel(allowed, "t", { ...service, regions: ["ams", "ord"], frpc: { replicas: 2 } })),
      ).toBeUndefined()
      expect(yield* admission(tunnel(other, "t", service))).toContain(
        `metadata.namespace: namespace ${other} may not have tunnels: its labels do not match the chart value tenants.namespaceSelector`,
      )
    }),
  )

  it.live("lets a tunnel the values now refuse lose its finalizer (only spec changes are judged)", () =>
    Effect.gen(function* () {
      const namespace = yield* scopedNamespace(kubectl, "fto-adm")
      const manifest = JSON.parse(addressTunnel(namespace, "192.168.1.20")) as { metadata: object }
      yield* kubectl.ok(
        ["create", "-f", "-"],
        JSON.stringify({ ...manifest, metadata: { ...manifest.metadata, finalizers: ["example.com/hold"] } }),
      )
      yield* installPolicy({ addressTargets: { enabled: false } }, [namespace])
      yield* kubectl.ok(["delete", "flytunnel", "probe", "-n", namespace, "--wait=false"])
      yield* kubectl.ok([
        "patch",
        "flytunnel",
        "probe",
        "-n",
        namespace,
        "--type=merge",
        "-p",
        '{"metadata":{"finalizers":null}}',
      ])
      const gone = yield* kubectl.run(["get", "flytunnel", "probe", "-n", namespace])
      expect(gone.stderr).toContain("NotFound")
    }),
  )
})
