import { type FlyTunnelStatus, Labels } from "@fly-tunnel-operator/api"
import type { Call } from "@fly-tunnel-operator/fly-emulator"
import { Effect } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { FieldManager, KubeClient } from "../src/kube/kubeClient.ts"
import { Deployment, FlyTunnel, type FlyTunnelObject } from "../src/kube/resourceType.ts"
import {
  type FastOperator,
  type FastOperatorOptions,
  OPERATOR_NAMESPACE,
  startFastOperator,
  until,
} from "./support/fastHarness.ts"

const WRITES = new Set(["create", "replace", "delete", "apply", "applyStatus", "mergePatch"])

const flyTunnel = (name: string): FlyTunnelObject => ({
  apiVersion: "fly-tunnel-operator.dev/v1alpha1",
  kind: "FlyTunnel",
  metadata: { name, namespace: "default" },
  spec: {
    target: { address: { host: "10.0.0.5" } },
    ports: [
      { name: "http", port: 80 },
      { name: "https", port: 443 },
    ],
    regions: ["ord"],
  },
})

describe("Tunnel reconcile pacing (in-memory API server, in-process Fly emulator)", () => {
  let operator: FastOperator | undefined
  afterEach(async () => {
    await operator?.close()
    operator = undefined
  })

  const start = async (options: FastOperatorOptions = {}) => {
    const started = await startFastOperator(options)
    started.startControllers()
    operator = started
    return started
  }
  const create = (fast: FastOperator, name: string) =>
    fast.run(
      KubeClient.use((kube) => kube.create(FlyTunnel, flyTunnel(name))).pipe(
        Effect.provideService(FieldManager, "test"),
      ),
    )
  const statusOf = (fast: FastOperator, name: string): FlyTunnelStatus | undefined =>
    fast.kube.objects(FlyTunnel, "default").find((item) => item.metadata?.name === name)?.status
  const ready = (fast: FastOperator, name: string) =>
    until(`${name} Ready`, () => (statusOf(fast, name)?.phase === "Ready" ? true : undefined))
  /** The tunnel's calls (App creation names no app in its path: it counts for the one tunnel it could be). */
  const callsOf = async (fast: FastOperator, name: string): Promise<ReadonlyArray<Call>> => {
    const app = statusOf(fast, name)?.app?.name
    return (await fast.emulator.state()).calls.filter(
      (call) => (app !== undefined && call.app === app) || call.action === "createApp",
    )
  }

  it("creates a new tunnel's App, Machine, IPv4 and IPv6 without looking first, each exactly once", async () => {
    const fast = await start()
    await create(fast, "fresh")
    await ready(fast, "fresh")
    const calls = await callsOf(fast, "fresh")
    const first = (action: Call["action"]) => calls.findIndex((call) => call.action === action)
    // A status without an App: the create goes first; a just-created App has no Machines or IPs to list.
    expect(calls[0]?.action).toBe("createApp")
    expect(calls.slice(0, first("createMachine")).map((call) => call.action)).not.toContain("listMachines")
    expect(calls.slice(0, first("createIpAssignment")).map((call) => call.action)).not.toContain("listIpAssignments")
    expect(calls.slice(0, first("createMachine")).map((call) => call.action)).not.toContain("getApp")
    const mutations = calls.filter((call) => call.method !== "GET").map((call) => call.action)
    expect(mutations.sort()).toEqual([
      "createApp",
      "createIpAssignment",
      "createIpAssignment",
      "createMachine",
      "setSecrets",
    ])
    const addressTypes = calls.filter((call) => call.action === "createIpAssignment").map((call) => call.ipType)
    expect(addressTypes.sort()).toEqual(["v4", "v6"])
  })

  it("applies each frpc once its Machine is started, never while Fly is still creating it", async () => {
    const fast = await start()
    // The create answered late, as on Fly: an frpc applied beside the address would be out long before its frps.
    await fast.emulator.setLatency({ createMachine: { ms: 300 } })
    await create(fast, "ordered")
    const machinesWhenApplied = await until("the frpc Deployment", async () => {
      const uid = fast.kube.objects(FlyTunnel, "default").find((item) => item.metadata?.name === "ordered")
        ?.metadata?.uid
      const applied = fast.kube
        .objects(Deployment, OPERATOR_NAMESPACE)
        .some((deployment) => uid !== undefined && deployment.metadata?.labels?.[Labels.tunnelUid] === uid)
      if (!applied) return undefined
      const app = statusOf(fast, "ordered")?.app?.name
      return (await fast.emulator.state()).machines.filter((machine) => app !== undefined && machine.app === app)
    })
    expect(machinesWhenApplied.map((machine) => machine.state)).toEqual(["started"])
    await ready(fast, "ordered")
  })

  it("is Ready only once Fly's checks pass, woken by them: no reconcile while it waits, no polling after", async () => {
    const fast = await start({ checksPassing: false })
    await create(fast, "checked")
    await until("frpc rolled out, waiting for the checks", () =>
      statusOf(fast, "checked")
        ?.conditions?.find((condition) => condition.type === "ClientReady")
        ?.message?.includes("waiting for Fly's checks")
        ? true
        : undefined,
    )
    // Once the wake-ups of the rollout and the Machine's start have been handled (no pass for half a second)…
    let last = -1
    const reconciles = await until("no more passes", async () => {
      const now = await fast.reconciles("tunnel")
      const quiet = now === last
      last = now
      if (!quiet) await new Promise((resolve) => setTimeout(resolve, 500))
      return quiet ? now : undefined
    })
    // …for longer than the fixed 2 s requeue this replaces: Fly is polled for the checks, the tunnel is not reconciled.
    await new Promise((resolve) => setTimeout(resolve, 2_500))
    expect(await fast.reconciles("tunnel")).toBe(reconciles)
    expect(statusOf(fast, "checked")?.phase).toBe("Provisioning")
    const polls = (await callsOf(fast, "checked")).filter((call) => call.action === "getMachine").length
    expect(polls).toBeGreaterThan(0)

    // One port passing is not enough; both are.
    const app = statusOf(fast, "checked")?.app?.name ?? ""
    await fast.emulator.markChecks({ status: "passing", app, name: "servicecheck-00-tcp-80" })
    await new Promise((resolve) => setTimeout(resolve, 500))
    expect(statusOf(fast, "checked")?.phase).toBe("Provisioning")
    await fast.emulator.markChecks({ status: "passing", app, name: "servicecheck-01-tcp-443" })
    await ready(fast, "checked")
    const settled = (await callsOf(fast, "checked")).length
    await new Promise((resolve) => setTimeout(resolve, 1_000))
    expect((await callsOf(fast, "checked")).slice(settled)).toEqual([])
  })

  it("after convergence and after a restart: no mutating Fly call and no Kubernetes write, at most 3 reads a tunnel", async () => {
    const fast = await start()
    const names = ["rest-a", "rest-b", "rest-c"]
    for (const name of names) await create(fast, name)
    for (const name of names) await ready(fast, name)
    await fast.stopControllers()
    const kubeBefore = fast.kube.calls().length
    const flyBefore = (await fast.emulator.state()).calls.length
    const reconcilesBefore = await fast.reconciles("tunnel")
    fast.startControllers()
    await until("every tunnel reconciled after the restart", async () =>
      (await fast.reconciles("tunnel")) >= reconcilesBefore + names.length ? true : undefined,
    )
    await new Promise((resolve) => setTimeout(resolve, 500))
    const kubeWrites = fast.kube
      .calls()
      .slice(kubeBefore)
      .filter((call) => WRITES.has(call.verb) && call.fieldManager !== "test")
    expect(kubeWrites).toEqual([])
    const flyCalls = (await fast.emulator.state()).calls.slice(flyBefore)
    expect(flyCalls.filter((call) => call.method !== "GET")).toEqual([])
    for (const name of names) {
      const app = statusOf(fast, name)?.app?.name
      const reads = flyCalls.filter((call) => call.app === app).map((call) => call.action)
      expect(reads.sort()).toEqual(["getApp", "listIpAssignments", "listMachines"])
    }
  })

  it("paces App creation under Fly's limit without a 429, and a tunnel whose App exists does not wait for the rest", async () => {
    // App creation at 2 a second after a burst of 1, so 6 new tunnels take about 2.6 s.
    const fast = await start({ createAppLimit: { perSecond: 2, burst: 1 } })
    const names = Array.from({ length: 6 }, (_, index) => `paced-${index}`)
    for (const name of names) await create(fast, name)
    // When the first tunnel is Ready, Apps are still being created for the others: their turns held no worker.
    await until("a first tunnel Ready", () =>
      names.some((name) => statusOf(fast, name)?.phase === "Ready") ? true : undefined,
    )
    const createdByThen = (await fast.emulator.state()).calls.filter((call) => call.action === "createApp").length
    expect(createdByThen).toBeLessThan(names.length)
    for (const name of names) await ready(fast, name)
    const calls = (await fast.emulator.state()).calls
    expect(calls.filter((call) => call.status === 429)).toEqual([])
    expect(calls.filter((call) => call.action === "createApp")).toHaveLength(names.length)
  })
})
