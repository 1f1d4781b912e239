import { execFile } from "node:child_process"
import { randomBytes } from "node:crypto"
import { readFile } from "node:fs/promises"
import { createServer } from "node:net"
import type { EmulatorState } from "@fly-tunnel-operator/fly-emulator"
import { installCrds, type LocalStack, startLocalStack } from "@fly-tunnel-operator/local-stack"
import { eventually } from "@fly-tunnel-operator/testkit"
import type { V1Pod } from "@kubernetes/client-node"
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest"
import { type Kubectl, loadBalancerService, makeKubectl } from "../local/kubectl.ts"
import { chartDir } from "./chart.ts"

const tools = inject("tools")
const controlPlane = inject("controlPlane")
const suffix = randomBytes(3).toString("hex")
const tunnelNamespace = `e2e-uninstall-${suffix}`

let stack: LocalStack
let kubectl: Kubectl
const releaseNamespaces: Array<string> = []

interface HelmResult {
  readonly exitCode: number
  readonly stdout: string
  readonly stderr: string
}

/** Real helm against the run's control plane; the exit code is data for the test. */
const helm = (args: ReadonlyArray<string>): Promise<HelmResult> =>
  new Promise((resolve) => {
    execFile(
      tools.helm,
      ["--kubeconfig", controlPlane.kubeconfigPath, ...args],
      { maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1
        resolve({ exitCode: code, stdout, stderr })
      },
    )
  })

const freePort = (): Promise<number> =>
  new Promise((resolve) => {
    const server = createServer()
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      server.close(() => resolve(typeof address === "object" && address !== null ? address.port : 0))
    })
  })

beforeAll(async () => {
  stack = await startLocalStack({ tools, controlPlane })
  kubectl = makeKubectl(tools.kubectl, controlPlane.kubeconfigPath)
  // The CRD comes from crds/ here (crds.enabled=false below): this test is about the hook, not the CRD template.
  await installCrds(tools.kubectl, controlPlane.kubeconfigPath)
  await kubectl(["create", "namespace", tunnelNamespace])
})

afterAll(async () => {
  await stack?.emulator.clearFaults()
  for (const namespace of [tunnelNamespace, ...releaseNamespaces]) {
    await kubectl?.(["delete", "namespace", namespace, "--wait=false"]).catch(() => {})
  }
  await stack?.stop()
})

/**
 * The chart installed with the uninstall hook on, its operator run from its own Deployment's Pod by the node agent (as
 * its ServiceAccount, against the emulator), and waited for until it is available.
 */
const installRelease = async (name: string, timeoutSeconds: number) => {
  const namespace = `fto-${name}`
  const release = `fto-${name}`
  await kubectl(["create", "namespace", namespace])
  releaseNamespaces.push(namespace)
  const [metricsPort, healthPort] = [await freePort(), await freePort()]
  const installed = await helm([
    "install",
    release,
    chartDir,
    "--namespace",
    namespace,
    "--set",
    [
      "flyOrg=personal",
      `flyApiToken=${stack.emulator.token}`,
      `flyApiBaseUrl=${stack.emulator.baseUrl}`,
      "crds.enabled=false",
      "uninstall.deleteTunnels=true",
      `uninstall.timeoutSeconds=${timeoutSeconds}`,
      `metrics.port=${metricsPort}`,
      `health.port=${healthPort}`,
    ].join(","),
  ])
  expect(installed.stderr).toBe("")
  expect(installed.exitCode).toBe(0)
  const fullname = `${release}-fly-tunnel-operator`
  await kubectl(["-n", namespace, "rollout", "status", `deployment/${fullname}`, "--timeout=120s"])
  return { namespace, release, fullname, hook: `${fullname}-uninstall` }
}

const addressTunnel = (name: string) => ({
  apiVersion: "fly-tunnel-operator.dev/v1alpha1",
  kind: "FlyTunnel",
  metadata: { name, namespace: tunnelNamespace },
  spec: { target: { address: { host: "192.168.100.10" } }, ports: [{ name: "tcp", port: 9000 }], regions: ["ord"] },
})

const fly = () => stack.emulator.state()
const count = (calls: EmulatorState["calls"], action: string) => calls.filter((call) => call.action === action).length

/** Hook objects left behind: the Job, its ServiceAccount and RBAC, the admission policy and its binding. */
const hookObjects = async (namespace: string, release: string) => {
  const selector = `app.kubernetes.io/instance=${release},app.kubernetes.io/component=uninstall-hook`
  const namespaced = await kubectl([
    "-n",
    namespace,
    "get",
    "job,serviceaccount,role,rolebinding",
    "-l",
    selector,
    "-o",
    "name",
  ])
  const cluster = await kubectl([
    "get",
    "clusterrole,clusterrolebinding,validatingadmissionpolicy,validatingadmissionpolicybinding",
    "-l",
    selector,
    "-o",
    "name",
  ])
  return `${namespaced}${cluster}`.trim().split("\n").filter(Boolean).sort()
}

describe("helm uninstall with uninstall.deleteTunnels: the pre-delete hook tears every tunnel down first", () => {
  it("deletes a FlyTunnel and a Service's tunnel, waits until Fly holds nothing, releases the Service, leaves no hook object", async () => {
    const release = await installRelease(`un-${suffix}`, 240)
    await kubectl(["apply", "-f", "-"], JSON.stringify(addressTunnel("nas")))
    await kubectl(["apply", "-f", "-"], JSON.stringify(loadBalancerService(tunnelNamespace, "web", 8080)))
    await eventually("both tunnels provisioned on Fly and the Service's EXTERNAL-IP", async () => {
      const state = await fly()
      const ingress = await kubectl([
        "-n",
        tunnelNamespace,
        "get",
        "svc",
        "web",
        "-o",
        "jsonpath={.status.loadBalancer.ingress[0].ip}",
      ])
      // Each tunnel: its App, one Machine, an IPv4 and an IPv6.
      return state.apps.length === 2 && state.ips.length === 4 && state.machines.length === 2 && ingress !== ""
        ? true
        : undefined
    })
    const callsBefore = (await fly()).calls.length

    const uninstalled = await helm(["uninstall", release.release, "--namespace", release.namespace, "--timeout", "5m"])
    expect(uninstalled.stderr).toBe("")
    expect(uninstalled.exitCode).toBe(0)

    // Nothing is left on Fly, and nothing was created while the hook ran: the Service's tunnel was not re-created.
    const state = await fly()
    expect([state.apps.length, state.machines.length, state.ips.length]).toEqual([0, 0, 0])
    const during = state.calls.slice(callsBefore)
    expect(count(during, "deleteApp")).toBe(2)
    expect([count(during, "createApp"), count(during, "createMachine"), count(during, "createIpAssignment")]).toEqual([
      0, 0, 0,
    ])

    expect(await kubectl(["get", "flytunnels", "--all-namespaces", "-o", "name"])).toBe("")
    // The Service stays (it is the user's), released: no address, no finalizer of ours, so deleting it never hangs.
    const service = JSON.parse(await kubectl(["-n", tunnelNamespace, "get", "svc", "web", "-o", "json"]))
    expect(service.metadata.finalizers ?? []).toEqual([])
    expect(service.status.loadBalancer?.ingress ?? []).toEqual([])
    expect(service.spec.loadBalancerClass).toBe("fly-tunnel-operator.dev/lb")
    expect(await hookObjects(release.namespace, release.release)).toEqual([])
    expect(await kubectl(["-n", release.namespace, "get", "deployment,pods", "-o", "name"])).toBe("")
    await kubectl(["-n", tunnelNamespace, "delete", "svc", "web", "--timeout=30s"])
  })

  it("gives up after uninstall.timeoutSeconds when Fly keeps failing deletes: the Job fails with a report, the operator keeps running", async () => {
    const release = await installRelease(`to-${suffix}`, 20)
    await kubectl(["apply", "-f", "-"], JSON.stringify(addressTunnel("stuck")))
    await eventually("the tunnel's App on Fly", async () => ((await fly()).apps.length === 1 ? true : undefined))
    // Fly answers 500 to every App delete from now on.
    await stack.emulator.injectFault({ action: "deleteApp", kind: "status", status: 500, rate: 1 })

    const uninstalled = await helm(["uninstall", release.release, "--namespace", release.namespace, "--timeout", "5m"])
    expect(uninstalled.exitCode).not.toBe(0)
    // Helm also tries to print the Job's log (hook-output-log-policy); without a kubelet here that part fails.
    expect(uninstalled.stderr).toContain(`job ${release.hook} failed: BackoffLimitExceeded`)

    const [job] = JSON.parse(
      await kubectl(["-n", release.namespace, "get", "pods", "-l", `job-name=${release.hook}`, "-o", "json"]),
    ).items as Array<V1Pod>
    expect(job?.status?.phase).toBe("Failed")
    expect(job?.status?.containerStatuses?.[0]?.state?.terminated?.exitCode).toBe(1)
    const log = await readFile(stack.nodeAgent.logFile(release.namespace, job?.metadata?.name ?? ""), "utf8")
    expect(log).toContain("gave up after 20s: 1 FlyTunnel(s) remain")
    expect(log).toMatch(new RegExp(`${tunnelNamespace}/stuck \\(phase Deleting, (Deleting|DeleteFailed): `))
    expect(log).toContain("fly-tunnel-operator.dev/force-delete=true")

    // Nothing was lost: the App is still on Fly (not forgotten), the operator still runs, the admission policy is gone.
    expect((await fly()).apps).toHaveLength(1)
    expect(
      await kubectl([
        "-n",
        release.namespace,
        "get",
        "deployment",
        release.fullname,
        "-o",
        "jsonpath={.spec.replicas}",
      ]),
    ).toBe("1")
    expect(await hookObjects(release.namespace, release.release)).toEqual([`job.batch/${release.hook}`])

    // Once Fly deletes again, `helm uninstall` again finishes the job.
    await stack.emulator.clearFaults()
    const retried = await helm(["uninstall", release.release, "--namespace", release.namespace, "--timeout", "5m"])
    expect(retried.stderr).toBe("")
    expect(retried.exitCode).toBe(0)
    expect((await fly()).apps).toEqual([])
    expect(await hookObjects(release.namespace, release.release)).toEqual([])
  })
})
