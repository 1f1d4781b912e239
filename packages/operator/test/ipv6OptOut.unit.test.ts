import { Annotations } from "@fly-tunnel-operator/api"
import type { Call } from "@fly-tunnel-operator/fly-emulator"
import type { V1Service } from "@kubernetes/client-node"
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { FieldManager, KubeClient } from "../src/kube/kubeClient.ts"
import { FlyTunnel, type FlyTunnelObject, Service } from "../src/kube/resourceType.ts"
import { type FastOperator, LOAD_BALANCER_CLASS, startFastOperator, until } from "./support/fastHarness.ts"

const flyTunnel = (name: string, ipv6: boolean): FlyTunnelObject => ({
  apiVersion: "fly-tunnel-operator.dev/v1alpha1",
  kind: "FlyTunnel",
  metadata: { name, namespace: "default" },
  spec: { target: { address: { host: "10.0.0.5" } }, ports: [{ name: "http", port: 80 }], regions: ["ord"], ipv6 },
})

const service = (name: string, annotations: Record<string, string>): V1Service => ({
  metadata: { name, namespace: "default", annotations },
  spec: {
    type: "LoadBalancer",
    loadBalancerClass: LOAD_BALANCER_CLASS,
    clusterIP: "10.96.0.30",
    ports: [{ name: "http", port: 8080, protocol: "TCP" }],
  },
})

/**
 * The IPv6 opt-out, counted in the emulator's call log: a tunnel that does not want an IPv6 never asks Fly for one and
 * publishes only its IPv4; turning the IPv6 off releases it (once), turning it on again allocates one (once).
 */
describe("IPv6 opt-out (fast tier)", () => {
  let fast: FastOperator
  beforeAll(async () => {
    fast = await startFastOperator()
    fast.startControllers()
  })
  afterAll(() => fast.close())

  const asTest = <A, E>(effect: Effect.Effect<A, E, KubeClient>) =>
    fast.run(effect.pipe(Effect.provideService(FieldManager, "test")))
  const tunnelOf = (name: string) =>
    fast.kube.objects(FlyTunnel, "default").find((item) => item.metadata?.name === name)
  /** The status once it reflects the tunnel's current generation and the tunnel is Ready. */
  const settled = (name: string) =>
    until(`${name} Ready at its generation`, () => {
      const tunnel = tunnelOf(name)
      const status = tunnel?.status
      return status?.phase === "Ready" && status.observedGeneration === tunnel?.metadata?.generation
        ? status
        : undefined
    })
  const callsOfApp = async (app: string, from = 0): Promise<ReadonlyArray<Call>> =>
    (await fast.emulator.state()).calls.slice(from).filter((call) => call.app === app)
  const appliedV6Creates = (calls: ReadonlyArray<Call>) =>
    calls.filter((call) => call.action === "createIpAssignment" && call.applied && call.ipType === "v6")
  const setIpv6 = (name: string, ipv6: boolean) =>
    asTest(KubeClient.use((kube) => kube.mergePatch(FlyTunnel, name, "default", { spec: { ipv6 } })))

  it("a FlyTunnel with ipv6: false never asks Fly for an IPv6 and lists only its IPv4", async () => {
    await asTest(KubeClient.use((kube) => kube.create(FlyTunnel, flyTunnel("v4-only", false))))
    const status = await settled("v4-only")
    const app = status.app?.name ?? ""
    const calls = await callsOfApp(app)
    expect(calls.filter((call) => call.action === "createIpAssignment").map((call) => call.ipType)).toEqual(["v4"])
    const ips = (await fast.emulator.state()).ips.filter((ip) => ip.app === app)
    expect(ips.map((ip) => ip.type)).toEqual(["v4"])
    expect(status.addresses).toEqual([{ ip: ips[0]?.ip, type: "v4" }])
    const ready = status.conditions?.find((condition) => condition.type === "AddressReady")
    expect(ready?.message).toBe(`dedicated IPv4 ${ips[0]?.ip}`)
  })

  it('the Service annotation ipv6: "false" gives a tunnel without IPv6, and the Service\'s ingress only the IPv4', async () => {
    const name = "v4-only-svc"
    await asTest(KubeClient.use((kube) => kube.create(Service, service(name, { [Annotations.ipv6]: "false" }))))
    const ingress = await until(`${name} published`, () => {
      const published = fast.kube.objects(Service, "default").find((item) => item.metadata?.name === name)?.status
        ?.loadBalancer?.ingress
      return published !== undefined && published.length > 0 ? published : undefined
    })
    const status = await settled(name)
    expect(tunnelOf(name)?.spec).toMatchObject({ ipv6: false })
    const app = status.app?.name ?? ""
    expect(appliedV6Creates(await callsOfApp(app))).toEqual([])
    const ips = (await fast.emulator.state()).ips.filter((ip) => ip.app === app)
    expect(ips.map((ip) => ip.type)).toEqual(["v4"])
    expect(ingress.map((entry) => entry.ip)).toEqual([ips[0]?.ip])
    expect(status.addresses?.map((address) => address.type)).toEqual(["v4"])
  })

  it("turning ipv6 off on a Ready tunnel releases its IPv6 once, and turning it on again allocates one once", async () => {
    const name = "v6-toggled"
    await asTest(KubeClient.use((kube) => kube.create(FlyTunnel, flyTunnel(name, true))))
    const before = await settled(name)
    const app = before.app?.name ?? ""
    const v4 = before.addresses?.find((address) => address.type === "v4")?.ip
    const v6 = before.addresses?.find((address) => address.type === "v6")?.ip
    expect(v4).toBeDefined()
    expect(v6).toBeDefined()

    const offFrom = (await fast.emulator.state()).calls.length
    await setIpv6(name, false)
    const off = await settled(name)
    expect(off.addresses).toEqual([{ ip: v4, type: "v4" }])
    const offCalls = await callsOfApp(app, offFrom)
    const deletes = offCalls.filter((call) => call.action === "deleteIpAssignment" && call.applied)
    expect(deletes.map((call) => decodeURIComponent(call.path.split("/").at(-1) ?? ""))).toEqual([v6])
    expect(offCalls.filter((call) => call.action === "createIpAssignment")).toEqual([])
    expect((await fast.emulator.state()).ips.filter((ip) => ip.app === app).map((ip) => ip.ip)).toEqual([v4])

    const onFrom = (await fast.emulator.state()).calls.length
    await setIpv6(name, true)
    const on = await until(`${name} with an IPv6 again`, async () => {
      const status = await settled(name)
      return status.addresses?.some((address) => address.type === "v6") ? status : undefined
    })
    const onCalls = await callsOfApp(app, onFrom)
    expect(appliedV6Creates(onCalls)).toHaveLength(1)
    expect(onCalls.filter((call) => call.action === "createIpAssignment" && call.ipType !== "v6")).toEqual([])
    expect(onCalls.filter((call) => call.action === "deleteIpAssignment")).toEqual([])
    const ips = (await fast.emulator.state()).ips.filter((ip) => ip.app === app)
    const newV6 = ips.find((ip) => ip.type === "v6")?.ip
    expect(ips.map((ip) => ip.type).sort()).toEqual(["v4", "v6"])
    expect(on.addresses).toEqual([
      { ip: v4, type: "v4" },
      { ip: newV6, type: "v6" },
    ])
  })
})
