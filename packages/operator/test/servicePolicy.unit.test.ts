import type { V1Service } from "@kubernetes/client-node"
import { Effect } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { FieldManager, KubeClient } from "../src/kube/kubeClient.ts"
import { CoreEvent, FlyTunnel, Service } from "../src/kube/resourceType.ts"
import { DEFAULT_TUNNEL_POLICY } from "../src/policy/tunnelPolicy.ts"
import { SERVICE_CONDITION } from "../src/service/serviceStatus.ts"
import { SOURCE_RANGES_CONDITION } from "../src/service/sourceRanges.ts"
import { type FastOperator, LOAD_BALANCER_CLASS, startFastOperator, until } from "./support/fastHarness.ts"

const service = (name: string, extra: { ranges?: ReadonlyArray<string>; annotations?: Record<string, string> } = {}) =>
  ({
    metadata: {
      name,
      namespace: "default",
      ...(extra.annotations === undefined ? {} : { annotations: extra.annotations }),
    },
    spec: {
      type: "LoadBalancer",
      clusterIP: "10.96.0.10",
      loadBalancerClass: LOAD_BALANCER_CLASS,
      ports: [{ name: "http", port: 8080, protocol: "TCP" }],
      ...(extra.ranges === undefined ? {} : { loadBalancerSourceRanges: [...extra.ranges] }),
    },
  }) satisfies V1Service

describe("the Service controller and the cluster's policy (in-memory API server, in-process Fly emulator)", () => {
  let operator: FastOperator | undefined
  afterEach(async () => {
    await operator?.close()
    operator = undefined
  })
  const start = async (options: Parameters<typeof startFastOperator>[0] = {}) => {
    operator = await startFastOperator({ resync: "200 millis", ...options })
    operator.startControllers()
    return operator
  }
  const asUser = <A, E>(target: FastOperator, use: (kube: KubeClient["Service"]) => Effect.Effect<A, E>) =>
    target.run(KubeClient.use(use).pipe(Effect.provideService(FieldManager, "test")))
  const current = (target: FastOperator, name: string) =>
    target.kube.objects(Service, "default").find((item) => item.metadata?.name === name)
  const conditionOf = (target: FastOperator, name: string, type: string) =>
    current(target, name)?.status?.conditions?.find((condition) => condition.type === type)
  const warnings = (target: FastOperator, name: string) =>
    target.kube
      .objects(CoreEvent, "default")
      .filter((event) => event.involvedObject.name === name && event.type === "Warning")

  it("does not publish a new Service with loadBalancerSourceRanges, and says why and what to do", async () => {
    const target = await start()
    await asUser(target, (kube) => kube.create(Service, service("ranged", { ranges: ["203.0.113.0/24"] })))
    const condition = await until("the condition", () => {
      const found = conditionOf(target, "ranged", SERVICE_CONDITION)
      return found?.reason === "SourceRangesNotEnforced" ? found : undefined
    })
    expect(condition.status).toBe("False")
    expect(condition.message).toBe(
      'not published: spec.loadBalancerSourceRanges (203.0.113.0/24) cannot be enforced: Fly has no allowlist for a dedicated IPv4 and frps does not read PROXY headers, so every address on the internet could connect; remove the field, or set the annotation fly-tunnel-operator.dev/ignore-source-ranges: "true" to publish with the ranges ignored',
    )
    await new Promise((resolve) => setTimeout(resolve, 500))
    expect(target.kube.objects(FlyTunnel, "default")).toEqual([])
    expect((await target.emulator.state()).calls).toEqual([])
    expect(current(target, "ranged")?.status?.loadBalancer?.ingress ?? []).toEqual([])
    // One Warning, however often the Service is reconciled.
    expect(warnings(target, "ranged").map((event) => [event.reason, event.count ?? 1])).toEqual([
      ["SourceRangesNotEnforced", 1],
    ])

    // The owner accepts that the ranges are ignored: published.
    await asUser(target, (kube) =>
      kube.mergePatch(Service, "ranged", "default", {
        metadata: { annotations: { "fly-tunnel-operator.dev/ignore-source-ranges": "true" } },
      }),
    )
    await until("published", () => current(target, "ranged")?.status?.loadBalancer?.ingress?.[0])
    expect(conditionOf(target, "ranged", SOURCE_RANGES_CONDITION)).toBeUndefined()
  })

  it("keeps a published Service's address when ranges are added, with a Warning condition until they go", async () => {
    const target = await start()
    await asUser(target, (kube) => kube.create(Service, service("live")))
    const ingress = await until("published", () => current(target, "live")?.status?.loadBalancer?.ingress?.[0])
    await asUser(target, (kube) =>
      kube.mergePatch(Service, "live", "default", {
        metadata: { annotations: { "service.beta.kubernetes.io/load-balancer-source-ranges": "198.51.100.0/24" } },
      }),
    )
    const warning = await until("the Warning condition", () => conditionOf(target, "live", SOURCE_RANGES_CONDITION))
    expect(warning).toMatchObject({ status: "False", reason: "SourceRangesNotEnforced" })
    expect(warning.message).toContain(
      "the public address stays published to every address: annotation service.beta.kubernetes.io/load-balancer-source-ranges (198.51.100.0/24) cannot be enforced",
    )
    expect(current(target, "live")?.status?.loadBalancer?.ingress?.[0]).toEqual(ingress)
    expect(conditionOf(target, "live", SERVICE_CONDITION)?.status).toBe("True")
    await until("the Warning Event", () =>
      warnings(target, "live").some((event) => event.reason === "SourceRangesNotEnforced") ? true : undefined,
    )

    await asUser(target, (kube) =>
      kube.mergePatch(Service, "live", "default", {
        metadata: { annotations: { "service.beta.kubernetes.io/load-balancer-source-ranges": null } },
      }),
    )
    await until("the Warning condition gone", () =>
      conditionOf(target, "live", SOURCE_RANGES_CONDITION) === undefined ? true : undefined,
    )
    expect(current(target, "live")?.status?.loadBalancer?.ingress?.[0]).toEqual(ingress)
  })

  it("refuses annotations beyond the tenant limits, naming the annotation, and creates no tunnel", async () => {
    const target = await start({
      policy: {
        ...DEFAULT_TUNNEL_POLICY,
        tenants: { ...DEFAULT_TUNNEL_POLICY.tenants, machineSizes: ["shared-cpu-1x"], maxFrpcReplicas: 2 },
      },
    })
    await asUser(target, (kube) =>
      kube.create(
        Service,
        service("big", {
          annotations: {
            "fly-tunnel-operator.dev/fly-machine-size": "performance-2x",
            "fly-tunnel-operator.dev/frpc-replicas": "3",
            "fly-tunnel-operator.dev/ignore-source-ranges": "yes",
          },
        }),
      ),
    )
    const condition = await until("refused", () => {
      const found = conditionOf(target, "big", SERVICE_CONDITION)
      return found?.reason === "InvalidSpec" ? found : undefined
    })
    expect(condition.message.split("; ")).toEqual([
      "fly-tunnel-operator.dev/fly-machine-size: performance-2x is not allowed here (chart value tenants.machineSizes: shared-cpu-1x)",
      "fly-tunnel-operator.dev/frpc-replicas: 3, at most 2 allowed here (chart value tenants.maxFrpcReplicas)",
      'fly-tunnel-operator.dev/ignore-source-ranges: "yes" is not allowed: expected "true" or "false"',
    ])
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect(target.kube.objects(FlyTunnel, "default")).toEqual([])
    expect((await target.emulator.state()).calls).toEqual([])
  })
})
