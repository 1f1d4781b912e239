import { Annotations, FINALIZER } from "@fly-tunnel-operator/api"
import { FlyClient } from "@fly-tunnel-operator/fly"
import type { Fault } from "@fly-tunnel-operator/fly-emulator"
import type { V1Condition, V1Service } from "@kubernetes/client-node"
import { Effect, Metric, Option, Schema } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { FieldManager, KubeClient } from "../src/kube/kubeClient.ts"
import { KubeForbidden } from "../src/kube/kubeErrors.ts"
import { ConfigMap, Deployment, FlyTunnel, Namespace, Service } from "../src/kube/resourceType.ts"
import { SERVICE_CONDITION } from "../src/service/serviceStatus.ts"
import { orphansRemoved } from "../src/sweep/orphanSweep.ts"
import { clusterMarkName, tunnelMarkName } from "../src/tunnel/clusterMark.ts"
import { FrpsTlsSecrets } from "../src/tunnel/flySecret.ts"
import { type FastOperator, LOAD_BALANCER_CLASS, startFastOperator, until } from "./support/fastHarness.ts"
import {
  type GoTunnel,
  goAppName,
  goFrpcObjects,
  goMachineRequest,
  goStateAnnotations,
} from "./support/goOperatorEndState.ts"

const GO_NAMESPACE = "fly-tunnel-operator-system"

const asGoOperator = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.provideService(effect, FieldManager, "fly-tunnel-operator-go")

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

const goTunnel = (service: string, port = 8080): GoTunnel => ({
  namespace: "default",
  service,
  org: "personal",
  ports: [{ name: "http", port }],
})

/**
 * The Go operator's end state for one Service, built as it leaves it: its App on the org's default network, its frps
 * Machine, a dedicated IPv4, its frpc Deployment and ConfigMap in its namespace, and the Service of its class with
 * its finalizer, its five state annotations and the IPv4 in status.
 */
const goOperatorEndState = async (
  operator: FastOperator,
  tunnel: GoTunnel,
  annotations: Record<string, string> = {},
  /** Runs once Fly holds the Go operator's App, before the cluster's objects exist (e.g. to arm a fault). */
  beforeCluster: () => Promise<unknown> = async () => {},
) => {
  const app = goAppName(tunnel)
  const { machineId, ip } = await operator.run(
    FlyClient.use((fly) =>
      Effect.gen(function* () {
        yield* fly.createApp({ name: app, org_slug: tunnel.org })
        const machine = yield* fly.createMachine(app, goMachineRequest(tunnel))
        const address = yield* fly.createIpAssignment(app, { type: "v4" })
        return { machineId: machine.id, ip: address.ip }
      }),
    ),
  )
  await beforeCluster()
  const builtAt = (await operator.emulator.state()).calls.length
  const { configMap, deployment } = goFrpcObjects(tunnel, ip, GO_NAMESPACE)
  const service: V1Service = {
    metadata: {
      name: tunnel.service,
      namespace: tunnel.namespace,
      finalizers: [FINALIZER],
      annotations: { ...goStateAnnotations(tunnel, { machineId, ip, ipId: "ip_1a2b3c" }), ...annotations },
    },
    spec: {
      type: "LoadBalancer",
      loadBalancerClass: LOAD_BALANCER_CLASS,
      clusterIP: "10.96.0.40",
      ports: tunnel.ports.map((port) => ({ name: port.name ?? `tcp-${port.port}`, port: port.port, protocol: "TCP" })),
    },
  }
  await operator.run(
    asGoOperator(
      KubeClient.use((kube) =>
        Effect.gen(function* () {
          yield* kube
            .create(Namespace, { metadata: { name: GO_NAMESPACE } })
            .pipe(Effect.catchTag("KubeConflict", () => Effect.void))
          yield* kube.create(ConfigMap, configMap)
          yield* kube.create(Deployment, deployment)
          yield* kube.create(Service, service)
          yield* kube.applyStatus(Service, {
            metadata: { name: tunnel.service, namespace: tunnel.namespace },
            status: { loadBalancer: { ingress: [{ ip }] } },
          })
        }),
      ),
    ),
  )
  return { app, ip, machineId, builtAt }
}

const serviceOf = (operator: FastOperator, name: string) =>
  operator.kube.objects(Service, "default").find((item) => item.metadata?.name === name)
const tunnelOf = (operator: FastOperator, name: string) =>
  operator.kube.objects(FlyTunnel, "default").find((item) => item.metadata?.name === name)
const conditionOf = (operator: FastOperator, name: string): V1Condition | undefined =>
  serviceOf(operator, name)?.status?.conditions?.find((condition) => condition.type === SERVICE_CONDITION)
const tunnelReady = (operator: FastOperator, name: string) =>
  tunnelOf(operator, name)?.status?.conditions?.some((item) => item.type === "Ready" && item.status === "True")
    ? true
    : undefined
const clusterIdOf = (operator: FastOperator) =>
  operator.kube.objects(Namespace).find((item) => item.metadata?.name === "kube-system")?.metadata?.uid ?? ""
const goObjectsLeft = (operator: FastOperator) => [
  ...operator.kube.objects(ConfigMap, GO_NAMESPACE).map((item) => item.metadata?.name),
  ...operator.kube.objects(Deployment, GO_NAMESPACE).map((item) => item.metadata?.name),
]
/** Every ingress IP the operator's Service controller wrote on `name`, from the in-memory API server's call log. */
const ingressWrites = (operator: FastOperator, name: string, since = 0) =>
  operator.kube
    .calls()
    .slice(since)
    .filter(
      (call) =>
        call.verb === "applyStatus" &&
        call.kind === "Service" &&
        call.name === name &&
        call.fieldManager !== "fly-tunnel-operator-go",
    )
    .map((call) => ingressIps(call.body))
const deleteService = (operator: FastOperator, name: string) =>
  operator.run(asGoOperator(KubeClient.use((kube) => kube.delete(Service, name, "default"))))

let operator: FastOperator | undefined
afterEach(async () => {
  await operator?.close()
  operator = undefined
})

describe("adopting the Go operator's tunnels (fast tier)", () => {
  it("with adoption.enabled: keeps the IPv4 throughout, replaces the Machine, marks the App, removes the old frpc; deleting the Service later removes it all", async () => {
    const running = await startFastOperator({ adoptionEnabled: true, goOperatorNamespace: GO_NAMESPACE })
    operator = running
    const tunnel = goTunnel("web")
    const go = await goOperatorEndState(running, tunnel)
    // Another Service's frpc in the same namespace (another address): never touched.
    const other = goFrpcObjects(goTunnel("other"), "198.51.100.9", GO_NAMESPACE)
    await running.run(
      asGoOperator(
        KubeClient.use((kube) =>
          Effect.all([kube.create(ConfigMap, other.configMap), kube.create(Deployment, other.deployment)]),
        ),
      ),
    )
    const callsBefore = (await running.emulator.state()).calls.length
    const kubeBefore = running.kube.calls().length
    running.startControllers()

    await until("the adopted tunnel Ready", () => tunnelReady(running, "web"), 9_000)
    const state = await running.emulator.state()
    const calls = state.calls.slice(callsBefore)
    const applied = (action: string) => calls.filter((call) => call.action === action && call.applied)
    const flyTunnel = tunnelOf(running, "web")
    const uid = flyTunnel?.metadata?.uid ?? ""

    // The same App, the same IPv4: no App and no IPv4 was ever asked for; an IPv6 was added.
    expect(applied("createApp")).toEqual([])
    expect(applied("createIpAssignment").map((call) => [call.app, call.ipType])).toEqual([[go.app, "v6"]])
    expect(state.ips.filter((ip) => ip.app === go.app && ip.type === "v4").map((ip) => ip.ip)).toEqual([go.ip])
    expect(flyTunnel?.status?.addresses?.[0]).toEqual({ ip: go.ip, type: "v4" })
    expect(flyTunnel?.status?.app).toMatchObject({ name: go.app, cluster: clusterIdOf(running) })
    // Its Machine replaced by ours: deleted once, before ours was created.
    expect(applied("deleteMachine").map((call) => call.machineId)).toEqual([go.machineId])
    expect(applied("createMachine").map((call) => call.app)).toEqual([go.app])
    expect(calls.findIndex((call) => call.action === "deleteMachine" && call.applied)).toBeLessThan(
      calls.findIndex((call) => call.action === "createMachine" && call.applied),
    )
    const machines = state.machines.filter((machine) => machine.app === go.app && machine.state !== "destroyed")
    expect(machines.map((machine) => machine.name)).toEqual(["frps-ord"])
    expect(machines[0]?.config.image).not.toContain("snowdreamtech")
    // Marked as this cluster's and this tunnel's, with the tunnel's token and frps's certificate and key.
    expect(
      state.secrets
        .filter((secret) => secret.app === go.app)
        .map((secret) => secret.name)
        .sort(),
    ).toEqual(
      [
        "FRP_TOKEN",
        FrpsTlsSecrets.cert,
        FrpsTlsSecrets.key,
        clusterMarkName(clusterIdOf(running)),
        tunnelMarkName(uid),
      ].sort(),
    )
    // The old frpc is gone; the other Service's stays.
    expect(goObjectsLeft(running).sort()).toEqual(
      [other.configMap.metadata?.name, other.deployment.metadata?.name].sort(),
    )
    // Every ingress the operator wrote carries the Go operator's IPv4 first, and nothing else but the new IPv6.
    const ipv6 = state.ips.find((ip) => ip.app === go.app && ip.type === "v6")?.ip
    const writes = ingressWrites(running, "web", kubeBefore)
    expect(writes.length).toBeGreaterThan(0)
    for (const ips of writes) if (ips.length > 0) expect(ips[0]).toBe(go.ip)
    expect(new Set(writes.flat())).toEqual(new Set([go.ip, ipv6]))
    expect(serviceOf(running, "web")?.status?.loadBalancer?.ingress?.map((ingress) => ingress.ip)).toEqual([
      go.ip,
      ipv6,
    ])
    expect(conditionOf(running, "web")).toMatchObject({ status: "True", reason: "Ready" })
    expect(conditionOf(running, "web")?.message).not.toContain("not adopted")

    // Later, deleting the Service removes the adopted App with its IPv4, and our frpc.
    await deleteService(running, "web")
    await until("the adopted App removed", async () =>
      (await running.emulator.state()).apps.some((app) => app.name === go.app) ? undefined : true,
    )
    const after = await running.emulator.state()
    expect(after.ips.filter((ip) => ip.app === go.app)).toEqual([])
    await until("the Service released", () => (serviceOf(running, "web") === undefined ? true : undefined))
  })

  it("without the opt-in: a new App and address, the Go App untouched, and the condition names it as still billed; opting in and deleting the FlyTunnel then adopts it", async () => {
    const running = await startFastOperator({ goOperatorNamespace: GO_NAMESPACE })
    operator = running
    const go = await goOperatorEndState(running, goTunnel("shop"))
    running.startControllers()

    await until("the new tunnel Ready", () => tunnelReady(running, "shop"), 9_000)
    const created = tunnelOf(running, "shop")?.status
    expect(created?.app?.name).toMatch(/^fto-shop-/)
    expect(created?.addresses?.[0]?.ip).not.toBe(go.ip)
    const condition = conditionOf(running, "shop")
    expect(condition).toMatchObject({ status: "True", reason: "Ready" })
    expect(condition?.message).toContain(
      `the Go operator's Fly App ${go.app} (IPv4 ${go.ip}) is not adopted and is still billed`,
    )
    expect(condition?.message).toContain(`adoption is available: set ${Annotations.adopt}="true"`)
    const state = await running.emulator.state()
    expect(
      state.calls.filter(
        (call) =>
          call.app === go.app &&
          call.method !== "GET" &&
          call.action !== "createApp" &&
          call.action !== "createMachine" &&
          call.action !== "createIpAssignment",
      ),
    ).toEqual([])
    expect(goObjectsLeft(running)).toHaveLength(2)

    // Opting in afterwards changes nothing by itself (adoption is decided when a tunnel is made)...
    const callsBefore = state.calls.length
    await running.run(
      asGoOperator(
        KubeClient.use((kube) =>
          kube.mergePatch(Service, "shop", "default", { metadata: { annotations: { [Annotations.adopt]: "true" } } }),
        ),
      ),
    )
    await until("the annotation seen", () =>
      conditionOf(running, "shop") !== undefined &&
      serviceOf(running, "shop")?.metadata?.annotations?.[Annotations.adopt] === "true"
        ? true
        : undefined,
    )
    expect(tunnelOf(running, "shop")?.spec).not.toHaveProperty("adopt")
    // ...deleting the FlyTunnel does: it is re-created adopting the App, and the interim App goes with its address.
    const interim = created?.app?.name ?? ""
    await running.run(asGoOperator(KubeClient.use((kube) => kube.delete(FlyTunnel, "shop", "default"))))
    await until(
      "the re-created tunnel adopts the App",
      () =>
        tunnelOf(running, "shop")?.status?.app?.name === go.app && tunnelReady(running, "shop") ? true : undefined,
      9_000,
    )
    const after = await running.emulator.state()
    expect(after.apps.map((app) => app.name)).not.toContain(interim)
    expect(
      after.calls
        .slice(callsBefore)
        .filter((call) => call.action === "createIpAssignment" && call.ipType === "v4" && call.applied),
    ).toEqual([])
    expect(serviceOf(running, "shop")?.status?.loadBalancer?.ingress?.[0]?.ip).toBe(go.ip)
    expect(conditionOf(running, "shop")?.message).not.toContain("not adopted")
  })
})

const createService = (operator: FastOperator, name: string, annotations: Record<string, string>, port = 8080) =>
  operator.run(
    asGoOperator(
      KubeClient.use((kube) =>
        kube.create(Service, {
          metadata: { name, namespace: "default", annotations },
          spec: {
            type: "LoadBalancer",
            loadBalancerClass: LOAD_BALANCER_CLASS,
            clusterIP: "10.96.0.41",
            ports: [{ name: "http", port, protocol: "TCP" }],
          },
        }),
      ),
    ),
  )

/** Changes other than reads the operator made to `app` since `since`. */
const changesTo = async (operator: FastOperator, app: string, since: number) =>
  (await operator.emulator.state()).calls
    .slice(since)
    .filter((call) => call.app === app && call.method !== "GET")
    .map((call) => call.action)

describe("an App the Go operator left with two IPv4s (fast tier)", () => {
  it("keeps the one the Service published and releases the other (its crash could allocate a second)", async () => {
    const running = await startFastOperator({ adoptionEnabled: true, goOperatorNamespace: GO_NAMESPACE })
    operator = running
    running.startControllers()
    const tunnel = goTunnel("twice")
    const extra: Array<string> = []
    const go = await goOperatorEndState(running, tunnel, {}, async () => {
      const second = await running.run(
        FlyClient.use((fly) => fly.createIpAssignment(goAppName(tunnel), { type: "v4" })),
      )
      extra.push(second.ip)
    })
    await until("the adopted tunnel Ready", () => tunnelReady(running, "twice"), 9_000)
    const state = await running.emulator.state()
    expect(extra).toHaveLength(1)
    expect(state.ips.filter((ip) => ip.app === go.app && ip.type === "v4").map((ip) => ip.ip)).toEqual([go.ip])
    expect(
      state.calls.filter((call) => call.action === "deleteIpAssignment" && call.applied).map((call) => call.path),
    ).toEqual([`/v1/apps/${go.app}/ip_assignments/${extra[0]}`])
    expect(serviceOf(running, "twice")?.status?.loadBalancer?.ingress?.[0]?.ip).toBe(go.ip)
  })
})

describe("adoption refused (fast tier): nothing is changed on the App, and nothing else is made instead", () => {
  it("refuses an App marked as another cluster's, one without the IPv4, a missing one, a live tunnel's, and one another tunnel holds", async () => {
    const running = await startFastOperator({ adoptionEnabled: true, goOperatorNamespace: GO_NAMESPACE })
    operator = running
    running.startControllers()
    // A live tunnel of ours, and a Go App already adopted by another Service.
    await createService(running, "owner", { [Annotations.adopt]: "false" }, 8081)
    await until("owner Ready", () => tunnelReady(running, "owner"), 9_000)
    const owner = tunnelOf(running, "owner")?.status
    const first = await goOperatorEndState(running, goTunnel("first"))
    await until("first adopted", () => tunnelReady(running, "first"), 9_000)

    const theirs = await goOperatorEndState(running, goTunnel("theirs"), {}, () =>
      running.run(FlyClient.use((fly) => fly.setSecrets(goAppName(goTunnel("theirs")), { FTO_CLUSTER_OTHER: "x" }))),
    )
    const callsBefore = (await running.emulator.state()).calls.length
    const wrongIp = await goOperatorEndState(running, goTunnel("wrong-ip"), {
      "fly-tunnel-operator.dev/public-ip": "198.51.100.77",
    })
    await createService(running, "missing", {
      "fly-tunnel-operator.dev/fly-app": "fly-tunnel-default-missing-personal",
      "fly-tunnel-operator.dev/public-ip": "198.51.100.78",
    })
    await createService(running, "stolen", {
      "fly-tunnel-operator.dev/fly-app": owner?.app?.name ?? "",
      "fly-tunnel-operator.dev/public-ip": owner?.addresses?.[0]?.ip ?? "",
    })
    await createService(running, "second", {
      "fly-tunnel-operator.dev/fly-app": first.app,
      "fly-tunnel-operator.dev/public-ip": first.ip,
    })

    const why: Record<string, string> = {
      theirs: "it is marked as another cluster's (FTO_CLUSTER_OTHER)",
      "wrong-ip": `it holds no dedicated IPv4 198.51.100.77 (it holds ${wrongIp.ip})`,
      missing: "it does not exist in Fly",
      stolen: "FlyTunnel default/owner adopts it first",
      second: "FlyTunnel default/first holds it",
    }
    for (const [name, reason] of Object.entries(why)) {
      const appReady = await until(`${name} refused`, () =>
        tunnelOf(running, name)?.status?.conditions?.find(
          (item) => item.type === "AppReady" && item.reason === "AdoptionRefused",
        ),
      )
      expect(appReady.message, name).toContain(reason)
      expect(appReady.message, name).toContain("Nothing was changed on it.")
      expect(tunnelOf(running, name)?.status?.phase, name).toBe("Failed")
      await until(`${name}'s Service condition`, () =>
        conditionOf(running, name)?.reason === "AdoptionRefused" ? true : undefined,
      )
    }
    // Counted: no change on any of those Apps, no App or address made instead, no frpc of ours for them.
    for (const [app, since] of [
      [theirs.app, theirs.builtAt],
      [wrongIp.app, wrongIp.builtAt],
      [owner?.app?.name ?? "", callsBefore],
      [first.app, callsBefore],
    ] as const)
      expect(await changesTo(running, app, since), app).toEqual([])
    const state = await running.emulator.state()
    expect(
      state.calls
        .slice(callsBefore)
        .filter((call) => call.action === "createApp" && call.applied && call.app?.startsWith("fto-")),
    ).toEqual([])
    expect(goObjectsLeft(running)).toHaveLength(4)
    // The owner and the first adopter keep serving.
    expect(tunnelReady(running, "owner")).toBe(true)
    expect(tunnelReady(running, "first")).toBe(true)
  })
})

describe("re-attaching a re-created Service (fast tier)", () => {
  it("takes back its App and IPv4 before the sweep's grace period ends; the sweep then never takes it, and teardown removes it", async () => {
    const running = await startFastOperator({
      adoptionEnabled: true,
      sweep: { interval: "50 millis", grace: "3 seconds" },
    })
    operator = running
    running.startControllers()
    const forceDelete = { [Annotations.forceDelete]: "true" }
    await createService(running, "api", forceDelete, 8082)
    await createService(running, "gone", forceDelete, 8083)
    await until("api Ready", () => tunnelReady(running, "api"), 9_000)
    await until("gone Ready", () => tunnelReady(running, "gone"), 9_000)
    const old = tunnelOf(running, "api")
    const apiApp = old?.status?.app?.name ?? ""
    const apiIp = old?.status?.addresses?.[0]?.ip ?? ""
    const goneApp = tunnelOf(running, "gone")?.status?.app?.name ?? ""
    const removedBefore = (await running.run(Metric.value(Metric.withAttributes(orphansRemoved, { kind: "App" }))))
      .count

    // Both orphaned: deleted with force-delete while Fly refuses the teardown (the Apps stay).
    await running.emulator.injectFault({ action: "deleteIpAssignment", kind: "status", status: 503, count: 12 })
    await deleteService(running, "api")
    await deleteService(running, "gone")
    await until("both FlyTunnels gone", () =>
      tunnelOf(running, "api") === undefined && tunnelOf(running, "gone") === undefined ? true : undefined,
    )
    await running.emulator.clearFaults()
    const orphanedAt = (await running.emulator.state()).calls.length

    // The Service re-applied (GitOps, a restore), naming its App and address.
    await createService(
      running,
      "api",
      {
        "fly-tunnel-operator.dev/fly-app": apiApp,
        "fly-tunnel-operator.dev/public-ip": apiIp,
      },
      8082,
    )
    await until("api re-attached", () => tunnelReady(running, "api"), 9_000)
    const reattached = tunnelOf(running, "api")
    expect(reattached?.metadata?.uid).not.toBe(old?.metadata?.uid)
    expect(reattached?.status?.app?.name).toBe(apiApp)
    expect(reattached?.status?.addresses?.[0]?.ip).toBe(apiIp)
    expect(serviceOf(running, "api")?.status?.loadBalancer?.ingress?.[0]?.ip).toBe(apiIp)

    // The other orphan goes once its grace period passed: by then api's would have too.
    await until(
      "the other orphan swept",
      async () => ((await running.emulator.state()).apps.some((app) => app.name === goneApp) ? undefined : true),
      9_000,
    )
    const state = await running.emulator.state()
    expect(state.apps.map((app) => app.name)).toContain(apiApp)
    const calls = state.calls.slice(orphanedAt)
    expect(calls.filter((call) => call.action === "deleteApp" && call.applied).map((call) => call.app)).toEqual([
      goneApp,
    ])
    expect(calls.filter((call) => call.action === "createIpAssignment" && call.app === apiApp && call.applied)).toEqual(
      [],
    )
    expect(state.ips.filter((ip) => ip.app === apiApp && ip.type === "v4").map((ip) => ip.ip)).toEqual([apiIp])
    // Its Machine now belongs to the new tunnel (the old one's replaced), and it carries the new tunnel's mark.
    const machines = state.machines.filter((machine) => machine.app === apiApp && machine.state !== "destroyed")
    expect(
      machines.map(
        (machine) => (machine.config.metadata as Record<string, string>)?.["fly-tunnel-operator.dev/tunnel-uid"],
      ),
    ).toEqual([reattached?.metadata?.uid])
    expect(state.secrets.filter((secret) => secret.app === apiApp).map((secret) => secret.name)).toContain(
      tunnelMarkName(reattached?.metadata?.uid ?? ""),
    )
    // Counted: the sweep removed exactly one App (it logs and counts a removal once the App is gone).
    await until("the sweep's count", async () =>
      (await running.run(Metric.value(Metric.withAttributes(orphansRemoved, { kind: "App" })))).count - removedBefore >=
      1
        ? true
        : undefined,
    )
    expect(
      (await running.run(Metric.value(Metric.withAttributes(orphansRemoved, { kind: "App" })))).count - removedBefore,
    ).toBe(1)

    // Deleting the re-created Service removes the App.
    await deleteService(running, "api")
    await until("the re-attached App removed", async () =>
      (await running.emulator.state()).apps.some((app) => app.name === apiApp) ? undefined : true,
    )
  })
})

/** A fault without its action (an Omit that distributes over the union). */
type FaultShape = Fault extends infer Each ? (Each extends Fault ? Omit<Each, "action"> : never) : never

const faults: ReadonlyArray<readonly [string, FaultShape]> = [
  ["a 502 after Fly applied it", { kind: "status", status: 502, applied: true }],
  ["a 503 that applied nothing", { kind: "status", status: 503 }],
  ["a connection reset after Fly applied it", { kind: "lostResponse" }],
  ["no answer after Fly applied it", { kind: "timeout", hang: true, applied: true }],
]

const steps = [
  "getApp",
  "listSecrets",
  "listIpAssignments",
  "setSecrets",
  "listMachines",
  "deleteMachine",
  "createMachine",
  "createIpAssignment",
] as const

describe("adoption under a fault at every step (fast tier)", () => {
  it.each(steps.flatMap((step) => faults.map(([name, fault]) => [step, name, fault] as const)))(
    "%s failing with %s: the adopted IPv4 only, one Machine of ours, the Go Machine deleted once, the old frpc gone",
    async (step, _name, fault) => {
      const running = await startFastOperator({ adoptionEnabled: true, goOperatorNamespace: GO_NAMESPACE })
      operator = running
      running.startControllers()
      const callsBefore = (await running.emulator.state()).calls.length
      const kubeBefore = running.kube.calls().length
      const go = await goOperatorEndState(running, goTunnel("faulty"), {}, () =>
        running.emulator.injectFault({ action: step, ...fault } as Fault),
      )
      await until("the adopted tunnel Ready", () => tunnelReady(running, "faulty"), 9_000)
      const state = await running.emulator.state()
      const calls = state.calls.slice(callsBefore)
      expect(calls.some((call) => call.action === step && call.fault !== undefined)).toBe(true)
      const applied = (action: string) => calls.filter((call) => call.action === action && call.applied)
      expect(applied("createIpAssignment").map((call) => call.ipType)).toEqual(["v4", "v6"]) // the Go operator's v4
      expect(state.ips.filter((ip) => ip.app === go.app && ip.type === "v4").map((ip) => ip.ip)).toEqual([go.ip])
      expect(applied("deleteMachine").map((call) => call.machineId)).toEqual([go.machineId])
      expect(applied("createMachine")).toHaveLength(2) // the Go operator's, then ours
      const live = state.machines.filter((machine) => machine.app === go.app && machine.state !== "destroyed")
      expect(live.map((machine) => machine.name)).toEqual(["frps-ord"])
      expect(goObjectsLeft(running)).toEqual([])
      for (const ips of ingressWrites(running, "faulty", kubeBefore)) if (ips.length > 0) expect(ips[0]).toBe(go.ip)
      // Nothing changed on the App before it carried the marks that let teardown remove what was changed.
      const changes = state.calls.slice(go.builtAt).filter((call) => call.app === go.app && call.method !== "GET")
      expect(changes.find((call) => call.applied)?.action).toBe("setSecrets")
    },
  )

  it("the old frpc's removal refused by the API server (RBAC): the tunnel waits, saying what to grant, then removes it", async () => {
    const running = await startFastOperator({ adoptionEnabled: true, goOperatorNamespace: GO_NAMESPACE })
    operator = running
    running.kube.inject({
      verb: "delete",
      kind: "ConfigMap",
      times: 3,
      error: new KubeForbidden({ request: "DELETE configmaps", message: "forbidden", status: 403 }),
    })
    running.startControllers()
    await goOperatorEndState(running, goTunnel("guarded"))
    const waiting = await until("the client condition says why", () =>
      tunnelOf(running, "guarded")?.status?.conditions?.find(
        (item) => item.type === "ClientReady" && item.message.includes("removing the Go operator's frpc"),
      ),
    )
    expect(waiting.message).toContain("adoption.goOperatorNamespace")
    await until("the adopted tunnel Ready", () => tunnelReady(running, "guarded"), 9_000)
    expect(goObjectsLeft(running)).toEqual([])
  })
})
