import { randomBytes } from "node:crypto"
import {
  deployOperator,
  type LocalStack,
  type OperatorDeployment,
  type OperatorProcess,
  startLocalStack,
} from "@fly-tunnel-operator/local-stack"
import { eventually } from "@fly-tunnel-operator/testkit"
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest"
import { type Kubectl, loadBalancerService, makeKubectl } from "./kubectl.ts"

const tools = inject("tools")
const controlPlane = inject("controlPlane")
const suffix = randomBytes(3).toString("hex")
const operatorNamespace = `fto-sweep-${suffix}`
const namespace = `sweep-${suffix}`
const forceDelete = { "fly-tunnel-operator.dev/force-delete": "true" }

/** One cluster: its control plane (the run's, or its own), its operator process and kubectl as its admin. */
interface Cluster {
  readonly stack: LocalStack
  readonly deployment: OperatorDeployment
  readonly operator: OperatorProcess
  readonly kubectl: Kubectl
}

// Two clusters with one Fly organization: A (the run's control plane) sweeps every 2 s with a 20 s grace; B (a
// control plane of its own) does not sweep.
let a: Cluster
let b: Cluster

const startCluster = async (stack: LocalStack, env: Record<string, string>): Promise<Cluster> => {
  const deployment = await deployOperator(stack, { tools, namespace: operatorNamespace, release: `fto-${suffix}` })
  const operator = await deployment.start({ leaderElect: false, env })
  const kubectl = makeKubectl(tools.kubectl, stack.controlPlane.kubeconfigPath)
  await kubectl(["create", "namespace", namespace])
  return { stack, deployment, operator, kubectl }
}

beforeAll(async () => {
  const stackA = await startLocalStack({ tools, controlPlane })
  a = await startCluster(stackA, { SWEEP_INTERVAL_SECONDS: "2", SWEEP_GRACE_SECONDS: "20" })
  const stackB = await startLocalStack({ tools, emulator: stackA.emulator })
  b = await startCluster(stackB, { SWEEP_INTERVAL_SECONDS: "0" })
})

afterAll(async () => {
  for (const cluster of [b, a]) {
    await cluster?.operator.stop()
    await cluster?.kubectl(["delete", "namespace", namespace, "--wait=false"]).catch(() => {})
    await cluster?.stack.stop()
  }
})

const fly = () => a.stack.emulator

/** A Service whose tunnel's App exists and carries its cluster's mark; resolves with the App's name. */
const markedApp = async (cluster: Cluster, name: string, port: number) => {
  await cluster.kubectl(["apply", "-f", "-"], JSON.stringify(loadBalancerService(namespace, name, port, forceDelete)))
  return eventually(`${name}'s App marked with its cluster`, async () => {
    const [app, mark] = (
      await cluster.kubectl([
        "-n",
        namespace,
        "get",
        "flytunnel",
        name,
        "-o",
        "jsonpath={.status.app.name} {.status.app.cluster}",
      ])
    ).split(" ")
    return app && mark ? app : undefined
  })
}

const tunnelGone = (cluster: Cluster, name: string) =>
  eventually(`${name}'s FlyTunnel gone`, async () =>
    (await cluster.kubectl(["-n", namespace, "get", "flytunnels", "-o", "name"])).includes(`/${name}`)
      ? undefined
      : true,
  )

/**
 * force-delete while Fly refuses the teardown: the FlyTunnel goes, its App stays. Fly keeps refusing until nothing
 * has tried to change the App for a while: once the finalizer is gone the operator must not try again.
 */
const orphanByForceDelete = async (cluster: Cluster, name: string, app: string) => {
  await fly().injectFault({ action: "deleteIpAssignment", kind: "status", status: 503, count: 1000 })
  await cluster.kubectl(["-n", namespace, "delete", "svc", name, "--wait=false"])
  await tunnelGone(cluster, name)
  await quiet(app)
  await fly().clearFaults()
}

/** The finalizers removed by hand while the operator is down: nothing tears the App down. */
const orphanByHand = async (cluster: Cluster, name: string) => {
  await cluster.operator.stop()
  // Both finalizers: the Service's (the operator releases it) and the FlyTunnel's (its teardown).
  for (const kind of ["service", "flytunnel"])
    await cluster.kubectl([
      "-n",
      namespace,
      "patch",
      kind,
      name,
      "--type=merge",
      "-p",
      '{"metadata":{"finalizers":null}}',
    ])
  await cluster.kubectl(["-n", namespace, "delete", "svc", name, "--wait=false"])
  await tunnelGone(cluster, name)
  return cluster.deployment.start({ leaderElect: false, env: { SWEEP_INTERVAL_SECONDS: "0" } })
}

/** Until nothing has tried to change `app` for three seconds (reads go on: A's sweep looks at every App). */
const quiet = (app: string) =>
  eventually(`no more changes to ${app}`, async () => {
    const state = await fly().state()
    const changes = (call: { app?: string; method: string }) => call.app === app && call.method !== "GET"
    const last = state.calls.filter(changes).at(-1)
    const pending = state.pending.some(changes)
    return !pending && (last === undefined || Date.now() - Date.parse(last.at) > 3_000) ? true : undefined
  })

/** A command of the operator image, with the operator's settings, as `kubectl exec` would run it. */
const command = async (cluster: Cluster, args: ReadonlyArray<string>, env: Record<string, string> = {}) => {
  const process = await cluster.deployment.start({ args, env })
  const exit = await process.exited
  return { exit, output: process.output() }
}

describe("the orphan sweep with two clusters sharing one Fly organization", () => {
  it("finds its own orphan (dry run first), removes it after the grace period, and never touches the other cluster's Apps", async () => {
    const kept = await markedApp(a, "kept", 7101)
    const gone = await markedApp(a, "gone", 7102)
    const theirs = await markedApp(b, "theirs", 7103)
    const theirsOrphaned = await markedApp(b, "theirs-gone", 7104)

    b = { ...b, operator: await orphanByHand(b, "theirs-gone") }
    const orphanedAt = (await fly().state()).calls.length
    await orphanByForceDelete(a, "gone", gone)
    expect((await fly().state()).apps.map((app) => app.name)).toContain(gone)

    const dry = await command(a, ["sweep", "--dry-run"])
    expect(dry.exit).toBe("code 0")
    const said = dry.output.join("\n")
    expect(dry.output, said).toContain(`would remove App ${gone} (FlyTunnel ${gone.slice(-36)} is gone)`)
    expect(dry.output, said).toContain(`left alone App ${theirsOrphaned}: marked as another cluster's`)
    expect(dry.output.join("\n")).not.toContain(kept)
    expect((await fly().state()).apps.map((app) => app.name)).toContain(gone)

    await eventually("A's orphan App removed by A's sweep", async () =>
      (await fly().state()).apps.some((app) => app.name === gone) ? undefined : true,
    )
    const state = await fly().state()
    expect(state.apps.map((app) => app.name).sort()).toEqual([kept, theirs, theirsOrphaned].sort())
    expect(state.ips.filter((ip) => ip.app === gone)).toEqual([])
    // Counted: nothing on B's Apps changed after they were made, and one App was removed, by A's sweep.
    const changes = state.calls.slice(orphanedAt).filter((call) => call.method !== "GET")
    expect(changes.filter((call) => call.app === theirs || call.app === theirsOrphaned)).toEqual([])
    expect(changes.filter((call) => call.action === "deleteApp" && call.applied).map((call) => call.app)).toEqual([
      gone,
    ])
    // The sweep counts a removal once Fly's answer is back, a moment after Fly applied it.
    const removedApps = async () =>
      (await (await fetch(a.operator.metricsUrl)).text())
        .split("\n")
        .filter((line) => /^fly_tunnel_operator_orphans_removed_total\{.*kind="App"/.test(line))
        .map((line) => Number(line.split(" ").at(-1)))
    await eventually("A's sweep to count its removal", async () =>
      (await removedApps()).length > 0 ? true : undefined,
    )
    expect(await removedApps()).toEqual([1])
  })

  it("B's own sweep command removes B's orphan; then deleting the Services leaves Fly empty", async () => {
    const swept = await command(b, ["sweep"], { SWEEP_GRACE_SECONDS: "0" })
    expect(swept.exit).toBe("code 0")
    expect(
      swept.output.some((line) => line.startsWith("removed App fto-theirs-gone-")),
      swept.output.join("\n"),
    ).toBe(true)
    for (const [cluster, name] of [
      [a, "kept"],
      [b, "theirs"],
    ] as const)
      await cluster.kubectl(["-n", namespace, "delete", "svc", name, "--wait=true", "--timeout=120s"])
    await eventually("Fly to be empty", async () => {
      const after = await fly().state()
      return after.apps.length + after.machines.length + after.ips.length === 0 ? true : undefined
    })
  })
})
