import { FINALIZER, type FlyTunnelStatus, OperatorAnnotations } from "@fly-tunnel-operator/api"
import type { V1Service } from "@kubernetes/client-node"
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { InMemoryKube, layerInMemoryKube } from "../src/kube/inMemoryKube.ts"
import { FieldManager, KubeClient } from "../src/kube/kubeClient.ts"
import { FieldManagers } from "../src/kube/patches.ts"
import { FlyTunnel, Service } from "../src/kube/resourceType.ts"
import { writeFlyHostnameAnnotation } from "../src/service/serviceHostnameAnnotation.ts"
import { SERVICE_CONDITION } from "../src/service/serviceStatus.ts"
import { releaseServices } from "../src/uninstall/serviceRelease.ts"
import { type FastOperator, LOAD_BALANCER_CLASS, startFastOperator, until } from "./support/fastHarness.ts"

const WRITES = new Set(["create", "replace", "delete", "apply", "applyStatus", "mergePatch"])

const service = (name: string, loadBalancerClass?: string, clusterIP = "10.96.0.10"): V1Service => ({
  metadata: { name, namespace: "default" },
  spec: {
    type: "LoadBalancer",
    clusterIP,
    ...(loadBalancerClass === undefined ? {} : { loadBalancerClass }),
    ports: [{ name: "http", port: 8080, protocol: "TCP" }],
  },
})

describe("Service controller decisions (in-memory API server, in-process Fly emulator)", () => {
  let operator: FastOperator
  /** Writes as the user would: under a field manager of their own. */
  const asUser = <A, E>(effect: Effect.Effect<A, E, KubeClient>) =>
    operator.run(effect.pipe(Effect.provideService(FieldManager, "test")))
  const operatorCalls = () => operator.kube.calls().filter((call) => call.fieldManager !== "test")

  beforeAll(async () => {
    operator = await startFastOperator({ resync: "200 millis" })
    operator.startControllers()
  })
  afterAll(() => operator.close())

  it("a Service of another class, changing again and again, costs no reconcile and no API call", async () => {
    const names = Array.from({ length: 20 }, (_, index) => `other-${index}`)
    const before = operatorCalls().length
    const reconcilesBefore = await operator.reconciles("service")
    for (const name of names)
      await asUser(KubeClient.use((kube) => kube.create(Service, service(name, "example.com/lb"))))
    for (let round = 0; round < 3; round++) {
      for (const name of names) {
        await asUser(
          KubeClient.use((kube) =>
            kube.mergePatch(Service, name, "default", { metadata: { annotations: { round: String(round) } } }),
          ),
        )
      }
    }
    // Give the controllers time to react (they must not).
    await new Promise((resolve) => setTimeout(resolve, 500))
    const touched = operatorCalls()
      .slice(before)
      .filter((call) => call.name !== undefined && names.includes(call.name))
    expect(touched).toEqual([])
    expect(await operator.reconciles("service")).toBe(reconcilesBefore)
    expect(operator.kube.objects(FlyTunnel)).toEqual([])
  })

  it("gives a Service of our class a tunnel and its address; a converged tunnel then costs no write at all", async () => {
    await asUser(KubeClient.use((kube) => kube.create(Service, service("web", LOAD_BALANCER_CLASS))))
    const ingress = await until("the Service's ingress", () => {
      const web = operator.kube.objects(Service, "default").find((item) => item.metadata?.name === "web")
      return web?.status?.loadBalancer?.ingress?.[0]
    })
    expect(ingress).toMatchObject({ ipMode: "Proxy" })
    const tunnel = operator.kube.objects(FlyTunnel, "default").find((item) => item.metadata?.name === "web")
    expect(tunnel?.metadata?.ownerReferences?.[0]).toMatchObject({ kind: "Service", name: "web", controller: true })
    const status: FlyTunnelStatus | undefined = tunnel?.status
    expect(status).toMatchObject({ phase: "Ready", target: "svc/web", regions: "ord" })

    // Several resyncs (every 200 ms) later: reads only, on both sides.
    const kubeBefore = operatorCalls().length
    const flyBefore = (await operator.emulator.state()).calls.length
    await new Promise((resolve) => setTimeout(resolve, 1_000))
    const kubeWrites = operatorCalls()
      .slice(kubeBefore)
      .filter((call) => WRITES.has(call.verb))
    expect(kubeWrites).toEqual([])
    const flyMutations = (await operator.emulator.state()).calls
      .slice(flyBefore)
      .filter((call) => call.method !== "GET")
    expect(flyMutations).toEqual([])
  })

  it("owns only its condition on the Service: another controller's stays as it is", async () => {
    await asUser(KubeClient.use((kube) => kube.create(Service, service("shared", LOAD_BALANCER_CLASS))))
    const theirs = {
      type: "example.com/Healthy",
      status: "True",
      reason: "Checked",
      message: "someone else's",
      lastTransitionTime: new Date("2026-01-01T00:00:00Z"),
    }
    await asUser(
      KubeClient.use((kube) =>
        kube.applyStatus(Service, {
          metadata: { name: "shared", namespace: "default" },
          status: { conditions: [theirs] },
        }),
      ).pipe(Effect.provideService(FieldManager, "someone-else")),
    )
    await until("our condition True", () => {
      const shared = operator.kube.objects(Service, "default").find((item) => item.metadata?.name === "shared")
      return shared?.status?.conditions?.find((condition) => condition.type === SERVICE_CONDITION)?.status === "True"
        ? true
        : undefined
    })
    const shared = operator.kube.objects(Service, "default").find((item) => item.metadata?.name === "shared")
    expect(shared?.status?.conditions?.find((condition) => condition.type === theirs.type)).toEqual({
      ...theirs,
      lastTransitionTime: theirs.lastTransitionTime.toISOString(),
    })
  })

  it("publishes <app>.fly.dev on a raw-TCP-only Service as its own annotation, never in the ingress; removes it when the Service leaves our class", async () => {
    const before = operatorCalls().length
    await asUser(
      KubeClient.use((kube) =>
        kube.create(Service, {
          metadata: {
            name: "raw",
            namespace: "default",
            labels: { "example.com/team": "db" },
            annotations: { "example.com/owner": "platform-team" },
          },
          spec: {
            type: "LoadBalancer",
            loadBalancerClass: LOAD_BALANCER_CLASS,
            clusterIP: "10.96.0.40",
            ports: [{ name: "postgres", port: 5432, protocol: "TCP" }],
          },
        }),
      ),
    )
    const raw = () => operator.kube.objects(Service, "default").find((item) => item.metadata?.name === "raw")
    const hostname = await until("the tunnel's hostname on the Service", () => {
      const tunnel = operator.kube.objects(FlyTunnel, "default").find((item) => item.metadata?.name === "raw")
      const wanted = tunnel?.status?.hostname
      return wanted !== undefined && raw()?.metadata?.annotations?.[OperatorAnnotations.flyHostname] === wanted
        ? wanted
        : undefined
    })
    expect(hostname).toMatch(/\.fly\.dev$/)
    const tunnel = operator.kube.objects(FlyTunnel, "default").find((item) => item.metadata?.name === "raw")
    // Nothing of Fly's edge: one raw TCP port, no hostnames.
    expect(tunnel?.spec).toMatchObject({ ports: [{ port: 5432, edge: "none" }], hostnames: [] })
    // Not beside the IPs: external-dns would make an A record and a CNAME for one name.
    const ingress = await until("the ingress", () => raw()?.status?.loadBalancer?.ingress)
    expect(ingress.map((entry) => entry.hostname)).toEqual(ingress.map(() => undefined))
    expect(JSON.stringify(raw()?.status)).not.toContain(hostname)
    // One server-side apply under the Service controller's field manager, naming our annotation and nothing else.
    const applies = () =>
      operatorCalls()
        .slice(before)
        .filter((call) => call.verb === "apply" && call.kind === "Service" && call.name === "raw")
    expect(applies().map((call) => [call.fieldManager, call.body])).toEqual([
      [
        FieldManagers.service,
        {
          metadata: {
            name: "raw",
            namespace: "default",
            uid: raw()?.metadata?.uid,
            annotations: { [OperatorAnnotations.flyHostname]: hostname },
          },
        },
      ],
    ])
    expect(raw()?.metadata?.annotations).toEqual({
      "example.com/owner": "platform-team",
      [OperatorAnnotations.flyHostname]: hostname,
    })

    // The user makes it a ClusterIP Service (the API server clears the class with the type).
    await asUser(
      KubeClient.use((kube) =>
        kube.mergePatch(Service, "raw", "default", { spec: { type: "ClusterIP", loadBalancerClass: null } }),
      ),
    )
    await until("the Service released", () =>
      (raw()?.metadata?.finalizers ?? []).includes(FINALIZER) ? undefined : true,
    )
    expect(raw()?.metadata?.annotations).toEqual({ "example.com/owner": "platform-team" })
    expect(raw()?.metadata?.labels).toEqual({ "example.com/team": "db" })
    expect(raw()?.status?.loadBalancer?.ingress ?? []).toEqual([])
    // Removed by applying without it: the apply names no annotation at all.
    expect(
      applies()
        .slice(1)
        .map((call) => [call.fieldManager, call.body]),
    ).toEqual([
      [
        FieldManagers.service,
        {
          metadata: { name: "raw", namespace: "default", uid: raw()?.metadata?.uid },
        },
      ],
    ])
  })
})

describe("the uninstall's release of our Services (in-memory API server)", () => {
  it("removes the fly-hostname annotation with the ingress and the finalizer, and nothing of anyone else's", async () => {
    const program = Effect.gen(function* () {
      const kube = yield* KubeClient
      const memory = yield* InMemoryKube
      const created = yield* kube
        .create(Service, {
          metadata: {
            name: "shop",
            namespace: "default",
            finalizers: [FINALIZER],
            annotations: { "example.com/owner": "platform-team" },
          },
          spec: {
            type: "LoadBalancer",
            loadBalancerClass: LOAD_BALANCER_CLASS,
            clusterIP: "10.96.0.50",
            ports: [{ name: "https", port: 443, protocol: "TCP" }],
          },
        })
        .pipe(Effect.provideService(FieldManager, "test"))
      // What the Service controller left on it: its ingress and its annotation, under its field manager.
      const published = yield* kube
        .applyStatus(Service, {
          metadata: { name: "shop", namespace: "default", uid: created.metadata?.uid ?? "" },
          status: { loadBalancer: { ingress: [{ ip: "203.0.113.9", ipMode: "Proxy" }] } },
        })
        .pipe(Effect.provideService(FieldManager, FieldManagers.service))
      yield* writeFlyHostnameAnnotation(published, "fto-shop.fly.dev").pipe(
        Effect.provideService(FieldManager, FieldManagers.service),
      )
      expect(yield* releaseServices(LOAD_BALANCER_CLASS)).toEqual(["default/shop"])
      const [released] = memory.objects(Service, "default")
      expect(released?.metadata?.annotations).toEqual({ "example.com/owner": "platform-team" })
      expect(released?.metadata?.finalizers ?? []).toEqual([])
      expect(released?.status?.loadBalancer?.ingress ?? []).toEqual([])
      expect(released?.spec?.loadBalancerClass).toBe(LOAD_BALANCER_CLASS)
    })
    await Effect.runPromise(program.pipe(Effect.provide(layerInMemoryKube())))
  })
})
