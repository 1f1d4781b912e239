import type { Fault } from "@fly-tunnel-operator/fly-emulator"
import type { V1Service } from "@kubernetes/client-node"
import { Effect, Option, Schema } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { FieldManager, KubeClient } from "../src/kube/kubeClient.ts"
import { FlyTunnel, Service } from "../src/kube/resourceType.ts"
import { type FastOperator, LOAD_BALANCER_CLASS, startFastOperator, until } from "./support/fastHarness.ts"

/** A fault without its action, for each kind of fault (an Omit that distributes over the union). */
type FaultShape = Fault extends infer Each ? (Each extends Fault ? Omit<Each, "action"> : never) : never

const ServiceStatusBody = Schema.Struct({
  status: Schema.Struct({
    loadBalancer: Schema.optionalKey(
      Schema.Struct({ ingress: Schema.optionalKey(Schema.Array(Schema.Struct({ ip: Schema.String }))) }),
    ),
  }),
})
const ingressIps = (body: unknown): ReadonlyArray<string> =>
  Option.match(Schema.decodeUnknownOption(ServiceStatusBody)(body), {
    onNone: () => [],
    onSome: (decoded) => (decoded.status.loadBalancer?.ingress ?? []).map((ingress) => ingress.ip),
  })

/** Every way a call can fail, as Fly (or the network in between) can make it fail. */
const faults: ReadonlyArray<readonly [string, FaultShape]> = [
  ["a 502 after Fly applied it", { kind: "status", status: 502, applied: true }],
  ["a 503 that applied nothing", { kind: "status", status: 503 }],
  ["a 429", { kind: "status", status: 429 }],
  ["a 408 after Fly applied it", { kind: "timeout", holdMs: 20, applied: true }],
  ["a 408 that applied nothing", { kind: "timeout", holdMs: 20 }],
  ["a connection reset after Fly applied it", { kind: "lostResponse" }],
  ["no answer at all after Fly applied it", { kind: "timeout", hang: true, applied: true }],
]

const creates = ["createApp", "setSecrets", "createMachine", "createIpAssignment"] as const

const service = (
  name: string,
  regions: string,
  ports: NonNullable<V1Service["spec"]>["ports"] = [{ name: "http", port: 8080, protocol: "TCP" }],
): V1Service => ({
  metadata: {
    name,
    namespace: "default",
    annotations: { "fly-tunnel-operator.dev/fly-regions": regions },
  },
  spec: {
    type: "LoadBalancer",
    loadBalancerClass: LOAD_BALANCER_CLASS,
    clusterIP: "10.96.0.20",
    ports,
  },
})

const createService = (operator: FastOperator, object: V1Service) =>
  operator.run(KubeClient.use((kube) => kube.create(Service, object)).pipe(Effect.provideService(FieldManager, "test")))

/** The Service's first published address, once the tunnel behind it is Ready (every Machine created). */
/** The first address the Service publishes. */
const publishedAddress = (operator: FastOperator, name: string) =>
  until(
    `${name} published`,
    () =>
      operator.kube.objects(Service, "default").find((item) => item.metadata?.name === name)?.status?.loadBalancer
        ?.ingress?.[0]?.ip,
    9_000,
  )

/** Every ingress address the operator ever wrote on the Service since the `since`-th API call. */
const ingressesWritten = (operator: FastOperator, name: string, since: number) =>
  operator.kube
    .calls()
    .slice(since)
    .filter((call) => call.verb === "applyStatus" && call.kind === "Service" && call.name === name)
    .flatMap((call) => ingressIps(call.body))

const publishedAndReady = async (operator: FastOperator, name: string) => {
  const published = await publishedAddress(operator, name)
  const tunnel = await until(`${name} Ready`, () => {
    const found = operator.kube.objects(FlyTunnel, "default").find((item) => item.metadata?.name === name)
    return found?.status?.phase === "Ready" ? found : undefined
  })
  return { published, app: tunnel.status?.app?.name ?? "" }
}

/**
 * Exactly once, counted: whatever fails at each create, the emulator's call log shows exactly one applied create of
 * the App, of each region's Machine and of the IPv4, and the Service never publishes any address but that one.
 */
describe("exactly-once Fly resources under every fault at every create (fast tier)", () => {
  let operator: FastOperator

  beforeAll(async () => {
    operator = await startFastOperator()
    operator.startControllers()
  })
  afterAll(() => operator.close())

  let counter = 0
  for (const action of creates) {
    for (const [faultName, fault] of faults) {
      it(`${action} failing with ${faultName}`, async () => {
        counter += 1
        const name = `once-${counter}`
        const regions = ["ord", "ams"]
        const callsBefore = (await operator.emulator.state()).calls.length
        const kubeBefore = operator.kube.calls().length
        // Twice for the addresses, so the IPv6 create meets it too (the IPv4 is asked for first).
        await operator.emulator.injectFault({
          action,
          ...fault,
          ...(action === "createIpAssignment" && !("hang" in fault) ? { count: 2 } : {}),
        } as Fault)
        await createService(operator, service(name, regions.join(",")))
        const published = await publishedAddress(operator, name)
        const tunnel = operator.kube.objects(FlyTunnel, "default").find((item) => item.metadata?.name === name)
        const app = tunnel?.status?.app?.name ?? ""
        const state = await operator.emulator.state()
        const calls = state.calls.slice(callsBefore)
        const applied = (which: string) => calls.filter((call) => call.action === which && call.applied)
        // The fault was met.
        expect(calls.some((call) => call.action === action && call.fault !== undefined)).toBe(true)
        expect(applied("createApp")).toHaveLength(1)
        for (const ipType of ["v4", "v6"])
          expect(
            applied("createIpAssignment").filter((call) => call.app === app && call.ipType === ipType),
            ipType,
          ).toHaveLength(1)
        expect(applied("createMachine").filter((call) => call.app === app)).toHaveLength(regions.length)
        const machines = state.machines.filter((machine) => machine.app === app && machine.state !== "destroyed")
        expect(machines.map((machine) => machine.region).sort()).toEqual([...regions].sort())
        expect(state.ips.filter((ip) => ip.app === app && ip.type === "v4").map((ip) => ip.ip)).toEqual([published])
        const ipv6 = state.ips.filter((ip) => ip.app === app && ip.type === "v6").map((ip) => ip.ip)
        expect(ipv6).toHaveLength(1)
        // Every ingress the operator ever wrote on the Service is one of those two addresses.
        expect(new Set(ingressesWritten(operator, name, kubeBefore))).toEqual(new Set([published, ...ipv6]))
      })
    }
  }
})

/**
 * The UDP Machine's create under every fault, counted per Machine name: a tunnel with a TCP and a UDP port has a TCP and
 * a UDP Machine in each region, and whatever fails at the UDP Machine's create, each name is created (applied) once.
 */
describe("exactly-once UDP Machines under every fault at their create (fast tier)", () => {
  let operator: FastOperator

  beforeAll(async () => {
    operator = await startFastOperator()
    operator.startControllers()
  })
  afterAll(() => operator.close())

  let counter = 0
  for (const [faultName, fault] of faults) {
    it(`the UDP Machine's create failing with ${faultName}`, async () => {
      counter += 1
      const name = `once-udp-${counter}`
      const regions = ["ord", "ams"]
      const names = ["frps-ord", "frps-ams", "frps-ord-udp", "frps-ams-udp"]
      const callsBefore = (await operator.emulator.state()).calls.length
      await operator.emulator.injectFault({ action: "createMachine", ...fault, machineName: "frps-ord-udp" } as Fault)
      await createService(
        operator,
        service(name, regions.join(","), [
          { name: "http", port: 8080, protocol: "TCP" },
          { name: "dns", port: 5353, protocol: "UDP" },
        ]),
      )
      const { app } = await publishedAndReady(operator, name)
      const state = await operator.emulator.state()
      const creates = state.calls
        .slice(callsBefore)
        .filter((call) => call.action === "createMachine" && call.app === app)
      // The fault was met, by the UDP Machine's create.
      expect(creates.filter((call) => call.fault !== undefined).map((call) => call.machineName)).toEqual([
        "frps-ord-udp",
      ])
      const appliedPerName = Object.fromEntries(
        names.map((machine) => [
          machine,
          creates.filter((call) => call.applied && call.machineName === machine).length,
        ]),
      )
      expect(appliedPerName).toEqual(Object.fromEntries(names.map((machine) => [machine, 1])))
      expect(creates.filter((call) => call.applied)).toHaveLength(names.length)
      const machines = state.machines.filter((machine) => machine.app === app && machine.state !== "destroyed")
      expect(machines.map((machine) => machine.name).sort()).toEqual([...names].sort())
    })
  }
})

/**
 * The IPv6 like the IPv4: every fault aimed at the IPv6's create alone (the IPv4 is asked for at the same time), and
 * the tunnel's deletion. Exactly one IPv6 is ever made, it is the one published, and after the Service is deleted
 * nothing of the tunnel is left on Fly.
 */
describe("exactly-once IPv6 under every fault at its create, and teardown (fast tier)", () => {
  let operator: FastOperator

  beforeAll(async () => {
    operator = await startFastOperator()
    operator.startControllers()
  })
  afterAll(() => operator.close())

  let counter = 0
  for (const [faultName, fault] of faults) {
    it(`the IPv6's create failing with ${faultName}`, async () => {
      counter += 1
      const name = `once-v6-${counter}`
      const callsBefore = (await operator.emulator.state()).calls.length
      const kubeBefore = operator.kube.calls().length
      await operator.emulator.injectFault({ action: "createIpAssignment", ...fault, ipType: "v6" } as Fault)
      await createService(operator, service(name, "ord"))
      const { published, app } = await publishedAndReady(operator, name)
      const state = await operator.emulator.state()
      const creates = state.calls
        .slice(callsBefore)
        .filter((call) => call.action === "createIpAssignment" && call.app === app)
      // The fault was met, by the IPv6's create only.
      expect(creates.filter((call) => call.fault !== undefined).map((call) => call.ipType)).toEqual(["v6"])
      expect(creates.filter((call) => call.applied && call.ipType === "v6")).toHaveLength(1)
      expect(creates.filter((call) => call.applied && call.ipType === "v4")).toHaveLength(1)
      const ipv6 = state.ips.filter((ip) => ip.app === app && ip.type === "v6").map((ip) => ip.ip)
      expect(ipv6).toHaveLength(1)
      expect(new Set(ingressesWritten(operator, name, kubeBefore))).toEqual(new Set([published, ...ipv6]))

      // Teardown: the Service goes, and with it everything the tunnel had on Fly.
      await operator.run(
        KubeClient.use((kube) => kube.delete(Service, name, "default")).pipe(
          Effect.provideService(FieldManager, "test"),
        ),
      )
      await until(`${name}'s FlyTunnel gone`, () =>
        operator.kube.objects(FlyTunnel, "default").some((item) => item.metadata?.name === name) ? undefined : true,
      )
      const after = await operator.emulator.state()
      expect(after.apps.filter((entry) => entry.name === app)).toEqual([])
      expect(after.ips.filter((ip) => ip.app === app)).toEqual([])
      expect(after.machines.filter((machine) => machine.app === app && machine.state !== "destroyed")).toEqual([])
    })
  }
})
