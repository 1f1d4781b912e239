import { randomBytes } from "node:crypto"
import { hostname } from "node:os"
import {
  deployOperator,
  type EchoBackend,
  type LocalStack,
  type OperatorDeployment,
  type OperatorProcess,
  startEchoBackend,
  startLocalStack,
} from "@fly-tunnel-operator/local-stack"
import { eventually } from "@fly-tunnel-operator/testkit"
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest"
import { recordE2eFigures } from "./benchReport.ts"
import { type Kubectl, loadBalancerService, makeKubectl } from "./kubectl.ts"

const tools = inject("tools")
const controlPlane = inject("controlPlane")
const suffix = randomBytes(3).toString("hex")
const operatorNamespace = `fto-le-${suffix}`
const namespace = `le-${suffix}`

let stack: LocalStack
let deployment: OperatorDeployment
let kubectl: Kubectl
const replicas: Array<OperatorProcess> = []
const backends: Array<EchoBackend> = []

beforeAll(async () => {
  stack = await startLocalStack({ tools, controlPlane })
  deployment = await deployOperator(stack, { tools, namespace: operatorNamespace, release: `fto-le-${suffix}` })
  kubectl = makeKubectl(tools.kubectl, controlPlane.kubeconfigPath)
  await kubectl(["create", "namespace", namespace])
  for (let i = 0; i < 2; i++) replicas.push(await deployment.start({ leaderElect: true, logLevel: "debug" }))
})

afterAll(async () => {
  await Promise.all(backends.map((backend) => backend.stop()))
  await Promise.all(replicas.map((replica) => replica.stop()))
  await kubectl?.(["delete", "namespace", namespace, "--wait=false"]).catch(() => {})
  await stack?.stop()
})

// The operator names itself `<hostname>-<pid>` in the Lease.
const identityOf = (replica: OperatorProcess) => `${hostname()}-${replica.pid}`
const lease = async () =>
  JSON.parse(await kubectl(["-n", operatorNamespace, "get", "lease", "fly-tunnel-operator", "-o", "json"])) as {
    spec: { holderIdentity?: string; leaseDurationSeconds: number }
  }
const holder = async () => {
  const identity = (await lease()).spec.holderIdentity
  return replicas.find((replica) => identityOf(replica) === identity)
}
/** Reconcile log lines (debug level): "reconciled", "reconciled; requeue after", "reconcile failed"… */
const reconciles = (replica: OperatorProcess) => replica.output().filter((line) => /"reconcile/.test(line))

const exposeService = async (name: string, port: number) => {
  await kubectl(["apply", "-f", "-"], JSON.stringify(loadBalancerService(namespace, name, port)))
  const clusterIp = await kubectl(["-n", namespace, "get", "svc", name, "-o", "jsonpath={.spec.clusterIP}"])
  backends.push(await startEchoBackend({ host: clusterIp, port, exec: stack.serviceNetwork.exec }))
}
const externalIp = (name: string) =>
  eventually(`EXTERNAL-IP of ${name}`, async () => {
    const ip = await kubectl([
      "-n",
      namespace,
      "get",
      "svc",
      name,
      "-o",
      "jsonpath={.status.loadBalancer.ingress[0].ip}",
    ])
    return ip === "" ? undefined : ip
  })

describe("leader election between two operator processes", () => {
  it("only the Lease holder reconciles; after kill -9 the other takes over within the lease duration and provisions nothing twice", async () => {
    const leader = await eventually("a Lease holder among the two replicas", holder)
    const follower = replicas.find((replica) => replica !== leader)
    if (follower === undefined) throw new Error("two replicas expected")

    await exposeService("first", 7001)
    await externalIp("first")
    expect(reconciles(leader).length).toBeGreaterThan(0)
    expect(reconciles(follower)).toEqual([])
    expect(follower.output().filter((line) => line.includes("controller started"))).toEqual([])

    // A crash in the middle of provisioning the second tunnel.
    await exposeService("second", 7002)
    await eventually("the leader to start on the second tunnel", async () =>
      (await stack.emulator.state()).apps.length === 2 ? true : undefined,
    )
    await leader.kill()
    const killedAt = performance.now()
    const { spec } = await lease()
    await eventually("the follower to hold the Lease", async () => ((await holder()) === follower ? true : undefined))
    const takeoverMs = performance.now() - killedAt
    await externalIp("second")

    // Provisioned exactly once: per App one Machine and one IPv4, whichever replica made them.
    const state = await stack.emulator.state()
    expect(state.apps).toHaveLength(2)
    for (const app of state.apps) {
      expect(
        state.machines.filter((machine) => machine.app === app.name),
        app.name,
      ).toHaveLength(1)
      expect(
        state.ips.filter((ip) => ip.app === app.name),
        app.name,
      ).toHaveLength(1)
    }
    expect(reconciles(follower).length).toBeGreaterThan(0)
    // Within the lease duration, plus one retry period (2 s) and process scheduling slack on a shared machine.
    expect(takeoverMs).toBeLessThan(spec.leaseDurationSeconds * 1_000 + 7_000)

    const path = await recordE2eFigures("leaderElection", {
      leaseDurationSeconds: spec.leaseDurationSeconds,
      killToNewLeaderMs: Math.round(takeoverMs),
    })
    process.stdout.write(`leader takeover after kill -9: ${Math.round(takeoverMs)} ms (${path})\n`)

    for (const name of ["first", "second"]) await kubectl(["-n", namespace, "delete", "svc", name, "--wait=true"])
    await eventually("Fly to be empty", async () => {
      const after = await stack.emulator.state()
      return after.apps.length + after.machines.length + after.ips.length === 0 ? true : undefined
    })
  })
})
