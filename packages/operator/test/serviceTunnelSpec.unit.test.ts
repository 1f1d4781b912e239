import { Annotations } from "@fly-tunnel-operator/api"
import type { V1Service, V1ServicePort } from "@kubernetes/client-node"
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { describeProblem, tunnelSpecFromService } from "../src/service/serviceTunnelSpec.ts"

const defaults = { region: "ord", machineSize: "shared-cpu-1x" } as const

const service = (
  annotations: Record<string, string> = {},
  ports: ReadonlyArray<V1ServicePort> = [
    { name: "https", port: 443, protocol: "TCP", targetPort: 8443 },
    { name: "dns", port: 53, protocol: "UDP" },
  ],
): V1Service => ({
  metadata: { name: "web", namespace: "default", annotations },
  spec: { type: "LoadBalancer", loadBalancerClass: "fly-tunnel-operator.dev/lb", ports: [...ports] },
})

const problemsOf = (result: ReturnType<typeof tunnelSpecFromService>) =>
  Result.isFailure(result) ? result.failure : []

describe("tunnelSpecFromService", () => {
  it("maps ports to the Service port (frpc dials the ClusterIP) and applies the schema's defaults", () => {
    expect(tunnelSpecFromService(service(), defaults)).toEqual(
      Result.succeed({
        target: { service: { name: "web" } },
        ports: [
          { name: "https", port: 443, protocol: "TCP", targetPort: 443, proxyProtocol: "none" },
          { name: "dns", port: 53, protocol: "UDP", targetPort: 53, proxyProtocol: "none" },
        ],
        regions: ["ord"],
        machineSize: "shared-cpu-1x",
        frpc: { replicas: 1 },
        ipv6: true,
      }),
    )
  })

  it("reads the Go operator's annotations and ours", () => {
    const result = tunnelSpecFromService(
      service({
        [Annotations.flyRegion]: "ams",
        [Annotations.flyMachineSize]: "shared-cpu-2x",
        [Annotations.frpcCpuRequest]: "20m",
        [Annotations.frpcMemoryLimit]: "256Mi",
        [Annotations.proxyProtocol]: "v2",
        [Annotations.frpcReplicas]: "2",
      }),
      defaults,
    )
    expect(Result.isSuccess(result)).toBe(true)
    if (Result.isFailure(result)) return
    expect(result.success).toMatchObject({
      regions: ["ams"],
      machineSize: "shared-cpu-2x",
      frpc: { replicas: 2, resources: { requests: { cpu: "20m" }, limits: { memory: "256Mi" } } },
    })
    // PROXY protocol applies to TCP ports only.
    expect(result.success.ports.map((port) => port.proxyProtocol)).toEqual(["v2", "none"])
  })

  it("prefers the region list over the single region", () => {
    const result = tunnelSpecFromService(
      service({ [Annotations.flyRegion]: "ams", [Annotations.flyRegions]: "ord, fra" }),
      defaults,
    )
    expect(Result.isSuccess(result) && result.success.regions).toEqual(["ord", "fra"])
  })

  it("names every bad annotation with its value and what the FlyTunnel schema allows", () => {
    const messages = problemsOf(
      tunnelSpecFromService(
        service({
          [Annotations.flyRegion]: "Chicago",
          [Annotations.flyMachineSize]: "huge",
          [Annotations.proxyProtocol]: "v3",
          [Annotations.frpcReplicas]: "0",
          [Annotations.frpcCpuLimit]: "lots",
        }),
        defaults,
      ),
    ).map(describeProblem)
    expect(messages).toEqual([
      expect.stringMatching(/^fly-tunnel-operator\.dev\/proxy-protocol: "v3" is not allowed: expected none, v1 or v2$/),
      expect.stringMatching(/^fly-tunnel-operator\.dev\/fly-region: "Chicago" .*three lowercase letters/),
      expect.stringMatching(/^fly-tunnel-operator\.dev\/fly-machine-size: "huge" .*shared-cpu-1x/),
      expect.stringMatching(/^fly-tunnel-operator\.dev\/frpc-replicas: "0" .*from 1 to 10/),
      expect.stringMatching(/^fly-tunnel-operator\.dev\/frpc-cpu-limit: "lots" .*Kubernetes quantity/),
    ])
  })

  it("refuses SCTP (a Service field) and duplicate regions (an annotation), naming each", () => {
    const problems = problemsOf(
      tunnelSpecFromService(
        service({ [Annotations.flyRegions]: "ord,ord" }, [{ port: 9, protocol: "SCTP" }]),
        defaults,
      ),
    )
    expect(problems.map((problem) => problem.field)).toEqual(["spec.ports[0].protocol", Annotations.flyRegions])
    expect(describeProblem(problems[0] ?? { field: "", value: "", message: "" })).toContain('"SCTP"')
  })

  it("refuses a replica count that is not a whole number with the text given", () => {
    const [problem] = problemsOf(tunnelSpecFromService(service({ [Annotations.frpcReplicas]: "two" }), defaults))
    expect(problem).toMatchObject({ field: Annotations.frpcReplicas, value: "two" })
  })
})
