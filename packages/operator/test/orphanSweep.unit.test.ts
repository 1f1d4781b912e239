import { randomUUID } from "node:crypto"
import { FlyClient } from "@fly-tunnel-operator/fly"
import { type RunningEmulator, startEmulator } from "@fly-tunnel-operator/fly-emulator"
import type { V1Service } from "@kubernetes/client-node"
import { Effect, Metric } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { FieldManager, KubeClient } from "../src/kube/kubeClient.ts"
import { Deployment, FlyTunnel, Namespace, Secret, Service } from "../src/kube/resourceType.ts"
import { makeOrphanSweep, orphansRemoved } from "../src/sweep/orphanSweep.ts"
import { clusterMarkName } from "../src/tunnel/clusterMark.ts"
import { finalizeTunnel } from "../src/tunnel/tunnelTeardown.ts"
import {
  type FastOperator,
  LOAD_BALANCER_CLASS,
  OPERATOR_NAMESPACE,
  startFastOperator,
  until,
} from "./support/fastHarness.ts"

const service = (name: string, annotations: Record<string, string> = {}): V1Service => ({
  metadata: { name, namespace: "default", annotations },
  spec: {
    type: "LoadBalancer",
    loadBalancerClass: LOAD_BALANCER_CLASS,
    clusterIP: "10.96.0.30",
    ports: [{ name: "http", port: 8080, protocol: "TCP" }],
  },
})

const asTest = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.provideService(effect, FieldManager, "test")

const expose = async (operator: FastOperator, name: string, annotations: Record<string, string> = {}) => {
  await operator.run(asTest(KubeClient.use((kube) => kube.create(Service, service(name, annotations)))))
  await until(
    `${name} published`,
    () =>
      operator.kube.objects(Service, "default").find((item) => item.metadata?.name === name)?.status?.loadBalancer
        ?.ingress?.[0]?.ip,
    9_000,
  )
  const tunnel = operator.kube.objects(FlyTunnel, "default").find((item) => item.metadata?.name === name)
  return tunnel?.status?.app?.name ?? ""
}

/**
 * A Service deleted with force-delete while Fly refuses the teardown: the finalizer goes, the App stays (the Go
 * operator's leak, and ours until the sweep).
 */
const orphanByForceDelete = async (operator: FastOperator, name: string) => {
  await operator.emulator.injectFault({ action: "deleteIpAssignment", kind: "status", status: 503, count: 6 })
  await operator.run(asTest(KubeClient.use((kube) => kube.delete(Service, name, "default"))))
  await until(`${name}'s FlyTunnel gone`, () =>
    operator.kube.objects(FlyTunnel, "default").some((item) => item.metadata?.name === name) ? undefined : true,
  )
  await operator.emulator.clearFaults()
}

const removedApps = (operator: FastOperator) =>
  operator.run(Metric.value(Metric.withAttributes(orphansRemoved, { kind: "App" }))).then((state) => state.count)

describe("the orphan sweep, two clusters sharing one Fly organization (fast tier)", () => {
  let fly: RunningEmulator
  let a: FastOperator
  let b: FastOperator

  beforeAll(async () => {
    fly = await startEmulator({ rateLimits: false })
    await fly.markChecks({ status: "passing" })
    // Cluster A sweeps often with a short grace; cluster B does not sweep at all.
    a = await startFastOperator({ emulator: fly, sweep: { interval: "50 millis", grace: "300 millis" } })
    b = await startFastOperator({ emulator: fly })
    a.startControllers()
    b.startControllers()
  })
  afterAll(async () => {
    await a?.close()
    await b?.close()
    await fly?.close()
  })

  it("marks every App with its cluster, and removes only its own orphans once Fly answers again", async () => {
    const removedBefore = await removedApps(a)
    const aKeep = await expose(a, "keep", { "fly-tunnel-operator.dev/force-delete": "true" })
    const aGone = await expose(a, "gone", { "fly-tunnel-operator.dev/force-delete": "true" })
    const bGone = await expose(b, "gone", { "fly-tunnel-operator.dev/force-delete": "true" })
    const clusterA = a.kube.objects(Namespace).find((item) => item.metadata?.name === "kube-system")?.metadata?.uid
    const clusterB = b.kube.objects(Namespace).find((item) => item.metadata?.name === "kube-system")?.metadata?.uid
    const secretsOf = (app: string) => fly.state().then((state) => state.secrets.filter((secret) => secret.app === app))
    expect((await secretsOf(aGone)).map((secret) => secret.name)).toContain(clusterMarkName(clusterA ?? ""))
    expect((await secretsOf(bGone)).map((secret) => secret.name)).toContain(clusterMarkName(clusterB ?? ""))
    expect(
      a.kube.objects(FlyTunnel, "default").find((item) => item.metadata?.name === "gone")?.status?.app?.cluster,
    ).toBe(clusterA)

    // An App named and networked like ours but made before marks existed: nobody's to remove.
    const legacyUid = randomUUID()
    const legacy = `fto-legacy-${legacyUid}`
    await a.run(
      FlyClient.use((client) => client.createApp({ name: legacy, org_slug: "personal", network: `fto-${legacyUid}` })),
    )

    // A's orphan, and B's (which A must never touch), both left behind by force-delete.
    await orphanByForceDelete(b, "gone")
    const orphanedAt = (await fly.state()).calls.length
    await orphanByForceDelete(a, "gone")
    expect((await fly.state()).apps.map((app) => app.name)).toContain(aGone)

    await until("A's orphan App removed", async () =>
      (await fly.state()).apps.some((app) => app.name === aGone) ? undefined : true,
    )
    const state = await fly.state()
    expect(state.apps.map((app) => app.name).sort()).toEqual([aKeep, bGone, legacy].sort())
    expect(state.ips.filter((ip) => ip.app === aGone)).toEqual([])
    expect(state.machines.filter((machine) => machine.app === aGone && machine.state !== "destroyed")).toEqual([])
    // Counted: one App removed by the sweep (counted once its answer is back, a moment after Fly applied it), and
    // nothing ever changed on B's or the unmarked App.
    await until("the sweep to count its removal", async () =>
      (await removedApps(a)) - removedBefore >= 1 ? true : undefined,
    )
    expect((await removedApps(a)) - removedBefore).toBe(1)
    const changes = state.calls.slice(orphanedAt).filter((call) => call.method !== "GET")
    expect(changes.filter((call) => call.app === bGone || call.app === legacy)).toEqual([])
    expect(changes.filter((call) => call.action === "deleteApp" && call.applied).map((call) => call.app)).toEqual([
      aGone,
    ])
  })

  it("removes frpc objects whose FlyTunnel is gone, and never a tunnel's that exists", async () => {
    const ghost = randomUUID()
    const live = a.kube.objects(FlyTunnel, "default").find((item) => item.metadata?.name === "keep")?.metadata?.uid
    const labels = {
      "app.kubernetes.io/managed-by": "fly-tunnel-operator",
      "fly-tunnel-operator.dev/tunnel-uid": ghost,
    }
    await a.run(
      asTest(
        KubeClient.use((kube) =>
          Effect.all([
            kube.create(Secret, { metadata: { name: `frpc-${ghost}`, namespace: OPERATOR_NAMESPACE, labels } }),
            kube.create(Deployment, {
              metadata: { name: `frpc-${ghost}-ord`, namespace: OPERATOR_NAMESPACE, labels },
              spec: {
                selector: { matchLabels: { app: "ghost" } },
                template: { metadata: { labels: { app: "ghost" } }, spec: { containers: [{ name: "frpc" }] } },
              },
            }),
          ]),
        ),
      ),
    )
    await until("the ghost's frpc objects removed", () =>
      a.kube.objects(Secret, OPERATOR_NAMESPACE).some((item) => item.metadata?.name === `frpc-${ghost}`) ||
      a.kube.objects(Deployment, OPERATOR_NAMESPACE).some((item) => item.metadata?.name === `frpc-${ghost}-ord`)
        ? undefined
        : true,
    )
    expect(a.kube.objects(Secret, OPERATOR_NAMESPACE).some((item) => item.metadata?.name === `frpc-${live}`)).toBe(true)
  })

  it("a stale copy of a tunnel that force-delete let go tears nothing down again", async () => {
    const app = await expose(b, "stale", { "fly-tunnel-operator.dev/force-delete": "true" })
    const copy = b.kube.objects(FlyTunnel, "default").find((item) => item.metadata?.name === "stale")
    expect(copy?.metadata?.finalizers?.length).toBeGreaterThan(0)
    await orphanByForceDelete(b, "stale")
    const before = (await fly.state()).calls.length
    // What a cache that has not yet seen the deletion hands a reconcile: the tunnel, finalizer and all.
    const stale = { ...copy, metadata: { ...copy?.metadata, deletionTimestamp: new Date() } }
    const uid = copy?.metadata?.uid ?? ""
    await b.run(finalizeTunnel(stale, { namespace: "default", name: "stale", uid }))
    expect((await fly.state()).calls.slice(before).filter((call) => call.app === app)).toEqual([])
    expect((await fly.state()).apps.some((item) => item.name === app)).toBe(true)
  })

  it("a dry run and a pass within the grace period list the orphan and change nothing", async () => {
    const app = await expose(b, "dry", { "fly-tunnel-operator.dev/force-delete": "true" })
    await orphanByForceDelete(b, "dry")
    const before = (await fly.state()).calls.length
    const sweep = await b.run(makeOrphanSweep())
    const dry = await b.run(sweep({ dryRun: true, grace: "0 millis" }))
    const early = await b.run(sweep({ dryRun: false, grace: "1 hour" }))
    for (const report of [dry, early]) {
      expect(report.removed).toEqual([])
      expect(report.waiting.map((orphan) => orphan.name)).toContain(app)
      // A's Apps are B's to leave alone.
      expect(report.notOurs.map((entry) => entry.why)).toContain("marked as another cluster's")
    }
    const changes = (await fly.state()).calls.slice(before).filter((call) => call.method !== "GET")
    expect(changes).toEqual([])
    // Once the grace period has passed, the same sweep removes it.
    const due = await b.run(sweep({ dryRun: false, grace: "0 millis" }))
    expect(due.removed.map((orphan) => orphan.name)).toContain(app)
    expect((await fly.state()).apps.some((item) => item.name === app)).toBe(false)
  })
})
