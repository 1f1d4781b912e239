import { Annotations, portAnnotation } from "@fly-tunnel-operator/api"
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
          { name: "https", port: 443, protocol: "TCP", targetPort: 443, proxyProtocol: "none", edge: "none" },
          { name: "dns", port: 53, protocol: "UDP", targetPort: 53, proxyProtocol: "none", edge: "none" },
        ],
        regions: ["ord"],
        machineSize: "shared-cpu-1x",
        frpc: { replicas: 1 },
        ipv6: true,
        ipv4: "dedicated",
        hostnames: [],
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

  it('opts out of the IPv6 with the ipv6 annotation "false", and refuses any other text naming the annotation', () => {
    const optedOut = tunnelSpecFromService(service({ [Annotations.ipv6]: "false" }), defaults)
    expect(Result.isSuccess(optedOut) && optedOut.success.ipv6).toBe(false)
    const optedIn = tunnelSpecFromService(service({ [Annotations.ipv6]: "true" }), defaults)
    expect(Result.isSuccess(optedIn) && optedIn.success.ipv6).toBe(true)
    const problems = problemsOf(tunnelSpecFromService(service({ [Annotations.ipv6]: "nope" }), defaults))
    expect(problems).toMatchObject([{ field: "fly-tunnel-operator.dev/ipv6", value: "nope" }])
    expect(problems.map(describeProblem)).toEqual([
      expect.stringMatching(/^fly-tunnel-operator\.dev\/ipv6: "nope" is not allowed: expected boolean/),
    ])
  })

  it("refuses a replica count that is not a whole number with the text given", () => {
    const [problem] = problemsOf(tunnelSpecFromService(service({ [Annotations.frpcReplicas]: "two" }), defaults))
    expect(problem).toMatchObject({ field: Annotations.frpcReplicas, value: "two" })
  })

  it("reads the edge per port by the Service port's name or number (the name wins), and the hostnames", () => {
    const result = tunnelSpecFromService(
      service(
        {
          [portAnnotation("https", "edge")]: "tls+http",
          [portAnnotation(443, "edge")]: "tls",
          [portAnnotation(80, "edge")]: "http",
          [portAnnotation("web", "force-https")]: "true",
          [Annotations.hostnames]: " api.example.com, www.example.com ,",
          [Annotations.proxyProtocol]: "v2",
        },
        [
          { name: "https", port: 443, protocol: "TCP" },
          { name: "web", port: 80, protocol: "TCP" },
          { name: "pg", port: 5432, protocol: "TCP" },
        ],
      ),
      defaults,
    )
    expect(Result.isSuccess(result)).toBe(true)
    if (Result.isFailure(result)) return
    expect(result.success.ports.map((port) => [port.name, port.edge, port.forceHttps, port.proxyProtocol])).toEqual([
      ["https", "tls+http", undefined, "none"],
      ["web", "http", true, "none"],
      // The Service-wide PROXY protocol stays on the raw TCP port.
      ["pg", "none", undefined, "v2"],
    ])
    expect(result.success.hostnames).toEqual(["api.example.com", "www.example.com"])
  })

  it("refuses a raw TCP port on a shared IPv4, naming the ipv4 annotation, why, and the cost of the fix", () => {
    const problems = problemsOf(
      tunnelSpecFromService(
        service({ [Annotations.ipv4]: "shared", [portAnnotation("https", "edge")]: "tls" }, [
          { name: "https", port: 443, protocol: "TCP" },
          { name: "pg", port: 5432, protocol: "TCP" },
        ]),
        defaults,
      ),
    )
    expect(problems.map(describeProblem)).toEqual([
      expect.stringMatching(
        /^fly-tunnel-operator\.dev\/ipv4: "shared" is not allowed: port 5432 is raw TCP, .*edge: tls or ipv4: dedicated \(a dedicated IPv4, \$2\/month\)$/,
      ),
    ])
  })

  it("names the per-port annotation of a bad edge, and the hostnames annotation of a bad hostname", () => {
    const problems = problemsOf(
      tunnelSpecFromService(
        service({ [portAnnotation(443, "edge")]: "https", [Annotations.hostnames]: "*.example.com" }),
        defaults,
      ),
    )
    expect(problems.map((problem) => [problem.field, problem.value])).toEqual([
      [portAnnotation(443, "edge"), "https"],
      [Annotations.hostnames, "*.example.com"],
    ])
  })
})
