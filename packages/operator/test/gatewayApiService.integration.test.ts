import { OperatorAnnotations } from "@fly-tunnel-operator/api"
import type { EmulatorState } from "@fly-tunnel-operator/fly-emulator"
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest"
import { eventually, OperatorHarness, ResourceTypes } from "./support/operatorHarness.ts"

const CLASS = "fly-tunnel-operator.dev/lb"

interface ManagedFieldsEntry {
  readonly manager: string
  readonly operation: string
  readonly subresource?: string
  readonly fieldsV1?: Record<string, unknown>
}

interface Service {
  readonly metadata: {
    readonly labels?: Record<string, string>
    readonly annotations?: Record<string, string>
    readonly managedFields?: ReadonlyArray<ManagedFieldsEntry>
  }
  readonly spec: Record<string, unknown> & { readonly healthCheckNodePort?: number }
  readonly status?: {
    readonly loadBalancer?: { readonly ingress?: ReadonlyArray<{ readonly ip?: string; readonly ipMode?: string }> }
  }
}

interface Tunnel {
  readonly metadata: { readonly uid: string }
  readonly spec: {
    readonly ports: ReadonlyArray<{ readonly name: string; readonly port: number; readonly protocol: string }>
    readonly regions: ReadonlyArray<string>
  }
  readonly status?: {
    readonly hostname?: string
    readonly addresses?: ReadonlyArray<{ readonly type: string; readonly ip: string }>
  }
}

type Machine = EmulatorState["machines"][number]
interface MachineService {
  readonly protocol: string
  readonly ports: ReadonlyArray<{ readonly port: number }>
}

/**
 * The proxy Service Envoy Gateway generates for a Gateway with HTTP, HTTPS and HTTP/3 listeners when its EnvoyProxy
 * sets `spec.provider.kubernetes.envoyService.loadBalancerClass` (and annotations): its own labels and selector,
 * `externalTrafficPolicy: Local` (Envoy Gateway's default), one port per listener, the listener ports shifted to
 * unprivileged container ports, and TCP and UDP on 443.
 */
const envoyGatewayService = (namespace: string) => {
  const labels = {
    "app.kubernetes.io/name": "envoy",
    "app.kubernetes.io/component": "proxy",
    "app.kubernetes.io/managed-by": "envoy-gateway",
    "gateway.envoyproxy.io/owning-gateway-name": "eg",
    "gateway.envoyproxy.io/owning-gateway-namespace": "default",
  }
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: {
      name: "envoy-default-eg-e41e7b31",
      namespace,
      labels,
      annotations: {
        // envoyService.annotations: our region choice, and one of someone else's the operator must leave alone.
        "fly-tunnel-operator.dev/fly-regions": "ord,ams",
        "example.com/owner": "platform-team",
      },
    },
    spec: {
      type: "LoadBalancer",
      loadBalancerClass: CLASS,
      externalTrafficPolicy: "Local",
      selector: labels,
      ports: [
        { name: "http-80", port: 80, protocol: "TCP", targetPort: 10080 },
        { name: "https-443", port: 443, protocol: "TCP", targetPort: 10443 },
        { name: "http3-443", port: 443, protocol: "UDP", targetPort: 10443 },
      ],
    },
  }
}

describe("a Gateway API implementation's LoadBalancer Service (Envoy Gateway's shape) on the local control plane", () => {
  const harness = new OperatorHarness({
    kubeconfigPath: inject("controlPlane").kubeconfigPath,
    tools: inject("tools"),
    // Real frps: the UDP listener's frpc must log in to its Machine before the tunnel is Ready.
    machineRuntime: true,
  })
  const name = "envoy-default-eg-e41e7b31"
  const service = () => harness.getJson<Service>(ResourceTypes.Service, name, harness.namespace)
  const tunnel = () => harness.getJson<Tunnel>(ResourceTypes.FlyTunnel, name, harness.namespace)

  beforeAll(async () => {
    await harness.start()
    harness.startOperator()
  })
  afterAll(() => harness.stop())

  it("gets a public address for every listener port (TCP and UDP), in each annotated region, its spec untouched", async () => {
    await harness.applyManifest(envoyGatewayService(harness.namespace))
    const applied = await eventually("the Service as the API server stored it", service)
    // externalTrafficPolicy Local on a LoadBalancer: the API server allocates a health-check node port.
    expect(applied.spec.healthCheckNodePort).toBeGreaterThan(0)

    const { published, owned, address, hostname } = await eventually(
      "the Service to show its tunnel's address and <app>.fly.dev",
      async () => {
        const [current, found] = await Promise.all([service(), tunnel()])
        const ip = found?.status?.addresses?.find((entry) => entry.type === "v4")?.ip
        const name = found?.status?.hostname
        return ip !== undefined &&
          name !== undefined &&
          current?.status?.loadBalancer?.ingress?.[0]?.ip === ip &&
          current.metadata.annotations?.[OperatorAnnotations.flyHostname] === name
          ? { published: current, owned: found as Tunnel, address: ip, hostname: name }
          : undefined
      },
      120_000,
    )
    expect(published.status?.loadBalancer?.ingress?.[0]).toEqual({ ip: address, ipMode: "Proxy" })
    expect(published.status?.loadBalancer?.ingress?.[1]?.ip).toMatch(/:/)
    expect(owned.spec.regions).toEqual(["ord", "ams"])
    expect(owned.spec.ports.map(({ name: port, port: number, protocol }) => [port, number, protocol])).toEqual([
      ["http-80", 80, "TCP"],
      ["https-443", 443, "TCP"],
      ["http3-443", 443, "UDP"],
    ])

    // In each region a Machine for the TCP listeners and one for the UDP listener, behind one IPv4.
    const state = await harness.emulator.state()
    const app = state.apps.find((entry) => entry.name.endsWith(owned.metadata.uid))?.name
    const machines = state.machines.filter((machine: Machine) => machine.app === app && machine.state !== "destroyed")
    expect(machines.map((machine) => machine.name).sort()).toEqual([
      "frps-ams",
      "frps-ams-udp",
      "frps-ord",
      "frps-ord-udp",
    ])
    for (const machine of machines) {
      const services = ((machine.config as { services?: ReadonlyArray<MachineService> }).services ?? []).map(
        (entry) => `${entry.protocol}/${entry.ports.map((port) => port.port).join(",")}`,
      )
      const listeners = machine.name.endsWith("-udp") ? ["udp/443"] : ["tcp/80", "tcp/443"]
      expect(services.filter((service) => listeners.includes(service)).sort()).toEqual([...listeners].sort())
      // Besides them only the Machine's frp control port, which collides with none of the listeners.
      expect(services.filter((service) => !listeners.includes(service))).toEqual([
        expect.stringMatching(/^tcp\/70\d\d$/),
      ])
    }
    expect(state.ips.filter((ip) => ip.app === app && ip.type === "v4").map((ip) => ip.ip)).toEqual([address])

    // The operator never writes a Service's spec or labels, nor another manager's annotation: what Envoy Gateway owns
    // stays as it set it. It adds one annotation of its own, `<app>.fly.dev`, and nowhere in the ingress.
    expect(hostname).toMatch(/\.fly\.dev$/)
    expect(published.spec).toEqual(applied.spec)
    expect(published.metadata.labels).toEqual(applied.metadata.labels)
    expect(published.metadata.annotations).toEqual({
      ...applied.metadata.annotations,
      [OperatorAnnotations.flyHostname]: hostname,
    })
    expect(JSON.stringify(published.status)).not.toContain(hostname)
    // By server-side apply under the Service controller's field manager, which owns that annotation alone on the
    // object; the fields Envoy Gateway (here the user "test") applied are still its own.
    const applies = (published.metadata.managedFields ?? []).filter(
      (entry) => entry.manager === "fly-tunnel-operator-service" && entry.operation === "Apply",
    )
    expect(applies.find((entry) => entry.subresource === undefined)?.fieldsV1).toEqual({
      "f:metadata": { "f:annotations": { [`f:${OperatorAnnotations.flyHostname}`]: {} } },
    })
    const fieldsOf = (keys: Record<string, string> | undefined) =>
      Object.fromEntries(Object.keys(keys ?? {}).map((key) => [`f:${key}`, {}]))
    expect(published.metadata.managedFields?.find((entry) => entry.manager === "test")?.fieldsV1).toMatchObject({
      "f:metadata": {
        "f:annotations": fieldsOf(applied.metadata.annotations),
        "f:labels": fieldsOf(applied.metadata.labels),
      },
    })
  })
})
