import { Annotations } from "@fly-tunnel-operator/api"
import { describe, expect, it } from "vitest"
import type { ServiceObject } from "../src/service/serviceObjects.ts"
import { describeProblem, tunnelSpecFromService } from "../src/service/serviceTunnelSpec.ts"

const defaults = { region: "ord", machineSize: "shared-cpu-1x" } as const

const service = (
  annotations: Record<string, string> = {},
  ports: Partial<NonNullable<ServiceObject["spec"]>> = {},
): ServiceObject => ({
  metadata: { name: "web", namespace: "default", annotations },
  spec: {
    type: "LoadBalancer",
    loadBalancerClass: "fly-tunnel-operator.dev/lb",
    ports: [
      { name: "https", port: 443, protocol: "TCP", targetPort: 8443 },
      { name: "dns", port: 53, protocol: "UDP" },
    ],
    ...ports,
  },
})

describe("tunnelSpecFromService", () => {
  it("maps ports to the Service port (frpc dials the ClusterIP) and applies defaults", () => {
    expect(tunnelSpecFromService(service(), defaults)).toEqual({
      spec: {
        target: { service: { name: "web" } },
        ports: [
          { name: "https", port: 443, protocol: "TCP", targetPort: 443, proxyProtocol: "none" },
          { name: "dns", port: 53, protocol: "UDP", targetPort: 53, proxyProtocol: "none" },
        ],
        regions: ["ord"],
        machineSize: "shared-cpu-1x",
        frpc: { replicas: 1 },
      },
    })
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
    expect(result).toMatchObject({
      spec: {
        regions: ["ams"],
        machineSize: "shared-cpu-2x",
        frpc: { replicas: 2, resources: { requests: { cpu: "20m" }, limits: { memory: "256Mi" } } },
      },
    })
    // PROXY protocol applies to TCP ports only.
    expect("spec" in result && result.spec.ports.map((port) => port.proxyProtocol)).toEqual(["v2", "none"])
  })

  it("prefers the region list over the single region", () => {
    const result = tunnelSpecFromService(
      service({ [Annotations.flyRegion]: "ams", [Annotations.flyRegions]: "ord, fra" }),
      defaults,
    )
    expect(result).toMatchObject({ spec: { regions: ["ord", "fra"] } })
  })

  it("names every bad annotation with its value and the allowed values", () => {
    const result = tunnelSpecFromService(
      service({
        [Annotations.flyRegion]: "Chicago",
        [Annotations.flyMachineSize]: "huge",
        [Annotations.proxyProtocol]: "v3",
        [Annotations.frpcReplicas]: "0",
        [Annotations.frpcCpuLimit]: "lots",
      }),
      defaults,
    )
    expect("problems" in result).toBe(true)
    const messages = "problems" in result ? result.problems.map(describeProblem) : []
    expect(messages).toHaveLength(5)
    expect(messages[0]).toContain(`${Annotations.flyRegion}: "Chicago"`)
    expect(messages[0]).toContain("three lowercase letters")
    expect(messages[1]).toContain("shared-cpu-1x")
    expect(messages[2]).toContain("none, v1 or v2")
    expect(messages[3]).toContain("from 1 to 10")
    expect(messages[4]).toContain(Annotations.frpcCpuLimit)
  })

  it("refuses SCTP and duplicate regions", () => {
    const result = tunnelSpecFromService(
      service({ [Annotations.flyRegions]: "ord,ord" }, { ports: [{ port: 9, protocol: "SCTP" }] }),
      defaults,
    )
    expect("problems" in result && result.problems.map((problem) => problem.field)).toEqual([
      Annotations.flyRegions,
      "spec.ports[0].protocol",
    ])
  })
})
