import type { FlyTunnelStatus } from "@fly-tunnel-operator/api"
import { Effect } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { FieldManager, KubeClient } from "../src/kube/kubeClient.ts"
import { CoreEvent, Deployment, FlyTunnel, Namespace, Node, Secret, ServiceCIDR } from "../src/kube/resourceType.ts"
import { parseIpRanges } from "../src/policy/ipRange.ts"
import { DEFAULT_TUNNEL_POLICY, type TunnelPolicyShape } from "../src/policy/tunnelPolicy.ts"
import { type FastOperator, OPERATOR_NAMESPACE, startFastOperator, until } from "./support/fastHarness.ts"

const NAMESPACE = "team-a"

describe("the tunnel policy, before anything is created (in-memory API server, in-process Fly emulator)", () => {
  let operator: FastOperator | undefined
  afterEach(async () => {
    await operator?.close()
    operator = undefined
  })

  const start = async (options: { policy?: TunnelPolicyShape; hosts?: Map<string, ReadonlyArray<string>> } = {}) => {
    const started = await startFastOperator({ resync: "200 millis", ...options })
    operator = started
    // The cluster's own ranges, as a real cluster records them: a ServiceCIDR, a Node's Pod range and the API
    // server's EndpointSlice.
    await asUser(started, (kube) =>
      Effect.all([
        kube.create(ServiceCIDR, { metadata: { name: "kubernetes" }, spec: { cidrs: ["10.43.0.0/16"] } }),
        kube.create(Node, { metadata: { name: "node-1" }, spec: { podCIDRs: ["10.42.1.0/24"] } }),
        kube.create(Namespace, { metadata: { name: NAMESPACE, labels: { team: "a" } } }),
      ]),
    )
    started.startControllers()
    return started
  }

  const asUser = <A, E>(target: FastOperator, use: (kube: KubeClient["Service"]) => Effect.Effect<A, E>) =>
    target.run(KubeClient.use(use).pipe(Effect.provideService(FieldManager, "test")))

  const createTunnel = (target: FastOperator, name: string, spec: object) =>
    asUser(target, (kube) =>
      kube.create(FlyTunnel, {
        apiVersion: "fly-tunnel-operator.dev/v1alpha1",
        kind: "FlyTunnel",
        metadata: { name, namespace: NAMESPACE },
        spec: { ports: [{ name: "http", port: 8080 }], regions: ["ord"], ...spec },
      }),
    )

  const statusOf = (target: FastOperator, name: string): FlyTunnelStatus | undefined =>
    target.kube.objects(FlyTunnel, NAMESPACE).find((tunnel) => tunnel.metadata?.name === name)?.status

  const condition = (target: FastOperator, name: string, type: string) =>
    statusOf(target, name)?.conditions?.find((item) => item.type === type)

  const refused = (target: FastOperator, name: string) =>
    until(`${name} refused`, () => {
      const ready = condition(target, name, "Ready")
      return ready?.reason === "InvalidSpec" ? ready : undefined
    })

  const ready = (target: FastOperator, name: string) =>
    until(`${name} Ready`, () =>
      condition(target, name, "Ready")?.status === "True" ? statusOf(target, name) : undefined,
    )

  const flyCallsFor = async (target: FastOperator, name: string) =>
    (await target.emulator.state()).calls.filter((call) => call.path.includes(`fto-${name}-`))

  const warnings = (target: FastOperator, name: string) =>
    target.kube
      .objects(CoreEvent, NAMESPACE)
      .filter((event) => event.involvedObject.name === name && event.type === "Warning")
      .map((event) => `${event.reason}: ${event.message}`)

  it.each([
    ["169.254.169.254", "spec.target.address.host: 169.254.169.254 is link-local"],
    ["127.0.0.1", "spec.target.address.host: 127.0.0.1 is loopback"],
    ["10.43.0.1", "spec.target.address.host: 10.43.0.1 is in the cluster's Service range 10.43.0.0/16"],
    ["10.42.1.9", "spec.target.address.host: 10.42.1.9 is in the cluster's Pod range 10.42.1.0/24"],
    ["8.8.8.8", "spec.target.address.host: 8.8.8.8 is outside the ranges address targets may use"],
  ])("refuses address %s with InvalidSpec naming the rule, a Warning, and no Fly call at all", async (host, rule) => {
    const target = await start()
    await createTunnel(target, "refused", { target: { address: { host } } })
    const verdict = await refused(target, "refused")
    expect(verdict.message).toContain(rule)
    expect(statusOf(target, "refused")?.phase).toBe("Failed")
    await until("the Warning", () => (warnings(target, "refused").length > 0 ? true : undefined))
    expect(warnings(target, "refused")[0]).toContain(`InvalidSpec: ${rule}`)
    // Several resyncs later: still nothing on Fly, no finalizer, no frpc objects.
    await new Promise((resolve) => setTimeout(resolve, 600))
    expect((await target.emulator.state()).calls).toEqual([])
    const tunnel = target.kube.objects(FlyTunnel, NAMESPACE).find((item) => item.metadata?.name === "refused")
    expect(tunnel?.metadata?.finalizers ?? []).toEqual([])
    expect(target.kube.objects(Secret, OPERATOR_NAMESPACE)).toEqual([])
  })

  it("provisions an allowed private address and records it as the address frpc dials", async () => {
    const target = await start()
    await createTunnel(target, "nas", { target: { address: { host: "192.168.1.20" } } })
    const status = await ready(target, "nas")
    expect(status?.targetAddress).toBe("192.168.1.20")
    expect(await flyCallsFor(target, "nas")).not.toEqual([])
  })

  it("resolves a host name, checks every address, pins the checked one and follows DNS on resync", async () => {
    const hosts = new Map<string, ReadonlyArray<string>>([["nas.lan.example.com", ["192.168.1.20", "192.168.1.21"]]])
    const policy = {
      ...DEFAULT_TUNNEL_POLICY,
      addressTargets: { ...DEFAULT_TUNNEL_POLICY.addressTargets, allowedHostnames: ["lan.example.com"] },
    }
    const target = await start({ policy, hosts })
    await createTunnel(target, "named", { target: { address: { host: "nas.lan.example.com" } } })
    const status = await ready(target, "named")
    expect(status?.targetAddress).toBe("192.168.1.20")
    const uid = target.kube.objects(FlyTunnel, NAMESPACE).find((item) => item.metadata?.name === "named")?.metadata?.uid
    const frpcConfig = () => {
      const secret = target.kube
        .objects(Secret, OPERATOR_NAMESPACE)
        .find((item) => item.metadata?.name === `frpc-${uid}`)
      return Buffer.from(secret?.data?.["frpc-ord.toml"] ?? "", "base64").toString()
    }
    expect(frpcConfig()).toContain('localIP = "192.168.1.20"')
    expect(frpcConfig()).not.toContain("nas.lan.example.com")

    // The answer's order changes: the pinned address stays (no needless roll of frpc).
    hosts.set("nas.lan.example.com", ["192.168.1.21", "192.168.1.20"])
    await new Promise((resolve) => setTimeout(resolve, 600))
    expect(statusOf(target, "named")?.targetAddress).toBe("192.168.1.20")

    // The name moves to another allowed address: frpc follows on the next resync.
    hosts.set("nas.lan.example.com", ["192.168.1.30"])
    await until("frpc dialling the new address", () =>
      frpcConfig().includes('localIP = "192.168.1.30"') ? true : undefined,
    )

    // The name moves to the metadata service: refused, and frpc stops dialling anything.
    hosts.set("nas.lan.example.com", ["192.168.1.30", "169.254.169.254"])
    const verdict = await refused(target, "named")
    expect(verdict.message).toBe(
      "spec.target.address.host: nas.lan.example.com resolves to 169.254.169.254 is link-local (cloud metadata services answer on 169.254.169.254), which is never published",
    )
    await until("frpc removed", () =>
      target.kube.objects(Deployment, OPERATOR_NAMESPACE).length === 0 ? true : undefined,
    )
    // The address is kept for when the name is fixed.
    expect(statusOf(target, "named")?.addresses).toEqual(status?.addresses)
  })

  it("refuses a name no suffix allows, and cluster names always, before resolving anything", async () => {
    const hosts = new Map<string, ReadonlyArray<string>>([["db.example.com", ["192.168.1.5"]]])
    const target = await start({ hosts })
    await createTunnel(target, "name", { target: { address: { host: "db.example.com" } } })
    expect((await refused(target, "name")).message).toContain(
      "spec.target.address.host: db.example.com matches none of the host names address targets may use (chart value addressTargets.allowedHostnames: none)",
    )
    await createTunnel(target, "svc", { target: { address: { host: "kubernetes.default.svc" } } })
    expect((await refused(target, "svc")).message).toContain("kubernetes.default.svc is a cluster or node-local name")
    expect((await target.emulator.state()).calls).toEqual([])
  })

  it("refuses every address target when they are disabled", async () => {
    const policy = {
      ...DEFAULT_TUNNEL_POLICY,
      addressTargets: { ...DEFAULT_TUNNEL_POLICY.addressTargets, enabled: false },
    }
    const target = await start({ policy })
    await createTunnel(target, "off", { target: { address: { host: "192.168.1.20" } } })
    expect((await refused(target, "off")).message).toBe(
      "spec.target.address: address targets are disabled in this cluster (chart value addressTargets.enabled is false)",
    )
    expect((await target.emulator.state()).calls).toEqual([])
  })

  it("enforces tenant limits and the namespace selector, naming each field", async () => {
    const policy: TunnelPolicyShape = {
      addressTargets: { ...DEFAULT_TUNNEL_POLICY.addressTargets, refusedRanges: parseIpRanges([]) },
      tenants: {
        machineSizes: ["shared-cpu-1x", "shared-cpu-2x"],
        regions: ["ord", "ams"],
        maxRegions: 2,
        maxFrpcReplicas: 2,
        allowFrpcScheduling: false,
        namespaceSelector: { matchExpressions: [{ key: "team", operator: "In", values: ["a", "b"] }] },
      },
    }
    const target = await start({ policy })
    await createTunnel(target, "greedy", {
      target: { service: { name: "web" } },
      regions: ["ord", "fra", "sin"],
      machineSize: "performance-8x",
      frpc: { replicas: 5, nodeSelector: { disk: "ssd" } },
    })
    const verdict = await refused(target, "greedy")
    expect(verdict.message.split("; ")).toEqual([
      "spec.machineSize: performance-8x is not allowed here (chart value tenants.machineSizes: shared-cpu-1x, shared-cpu-2x)",
      "spec.regions: 3 regions, at most 2 allowed here (chart value tenants.maxRegions)",
      "spec.regions[1]: fra is not allowed here (chart value tenants.regions: ord, ams)",
      "spec.regions[2]: sin is not allowed here (chart value tenants.regions: ord, ams)",
      "spec.frpc.replicas: 5, at most 2 allowed here (chart value tenants.maxFrpcReplicas)",
      "spec.frpc.nodeSelector: tunnels may not place frpc here (chart value tenants.allowFrpcScheduling is false)",
    ])

    await asUser(target, (kube) => kube.create(Namespace, { metadata: { name: "team-z", labels: { team: "z" } } }))
    await asUser(target, (kube) =>
      kube.create(FlyTunnel, {
        apiVersion: "fly-tunnel-operator.dev/v1alpha1",
        kind: "FlyTunnel",
        metadata: { name: "elsewhere", namespace: "team-z" },
        spec: { target: { service: { name: "web" } }, ports: [{ name: "http", port: 80 }], regions: ["ord"] },
      }),
    )
    const elsewhere = await until("the other namespace refused", () =>
      target.kube
        .objects(FlyTunnel, "team-z")[0]
        ?.status?.conditions?.find((item) => item.type === "Ready" && item.reason === "InvalidSpec"),
    )
    expect(elsewhere.message).toBe(
      "metadata.namespace: namespace team-z may not have tunnels: its labels do not match the chart value tenants.namespaceSelector (team in (a,b))",
    )
    expect((await target.emulator.state()).calls).toEqual([])

    // Within the limits, in a selected namespace: provisioned.
    await createTunnel(target, "modest", { target: { service: { name: "web" } }, regions: ["ams"] })
    await until("modest reached Fly", async () => ((await flyCallsFor(target, "modest")).length > 0 ? true : undefined))
  })
})
