import { type ChildProcess, spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
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
import {
  type GoTunnel,
  goAppName,
  goFrpcObjects,
  goFrpcToml,
  goMachineRequest,
  goStateAnnotations,
} from "../../packages/operator/test/support/goOperatorEndState.ts"
import { frpcProcessesOf } from "./frpcProcesses.ts"
import { type Kubectl, makeKubectl } from "./kubectl.ts"
import { exchangeUntil } from "./tcpExchange.ts"

const tools = inject("tools")
const controlPlane = inject("controlPlane")
const suffix = randomBytes(3).toString("hex")
const operatorNamespace = `fto-adopt-${suffix}`
const goNamespace = `fto-go-${suffix}`
const namespace = `adopt-${suffix}`
const PORT = 7841

let stack: LocalStack
let deployment: OperatorDeployment
let operator: OperatorProcess | undefined
let kubectl: Kubectl
let backend: EchoBackend | undefined
let watcher: ChildProcess | undefined
let scratch = ""

beforeAll(async () => {
  stack = await startLocalStack({ tools, controlPlane })
  kubectl = makeKubectl(tools.kubectl, controlPlane.kubeconfigPath)
  await kubectl(["create", "namespace", namespace])
  await kubectl(["create", "namespace", goNamespace])
  // The chart's RBAC with adoption on: a Role in the Go operator's namespace too.
  deployment = await deployOperator(stack, {
    tools,
    namespace: operatorNamespace,
    release: `fto-${suffix}`,
    values: { "adoption.enabled": "true", "adoption.goOperatorNamespace": goNamespace },
  })
  scratch = await mkdtemp(join(tmpdir(), "fto-adopt-"))
})

/** Runs frpc with a config until it exits, or until its output shows `stopAt`; at most a minute. */
const runClient = async (config: string, env: Record<string, string>, stopAt?: string) => {
  const configPath = join(scratch, `frpc-${randomBytes(3).toString("hex")}.toml`)
  await writeFile(configPath, config)
  const client = spawn(tools.frpc, ["-c", configPath], { env: { ...process.env, ...env } })
  const giveUp = setTimeout(() => client.kill(), 60_000)
  let output = ""
  const collect = (chunk: Buffer) => {
    output += chunk.toString()
    if (stopAt !== undefined && output.includes(stopAt)) client.kill()
  }
  client.stdout.on("data", collect)
  client.stderr.on("data", collect)
  const exitCode = await new Promise<number | null>((resolve) => client.once("exit", resolve))
  clearTimeout(giveUp)
  return { exitCode, output }
}

afterAll(async () => {
  watcher?.kill()
  await backend?.stop()
  await operator?.stop()
  for (const name of [namespace, goNamespace])
    await kubectl?.(["delete", "namespace", name, "--wait=false"]).catch(() => {})
  await stack?.stop()
  if (scratch !== "") await rm(scratch, { recursive: true, force: true })
})

/** The Fly Machines API as the Go operator called it (its JSON bodies), with the stack's token. */
const flyApi = async (method: string, path: string, body: object) => {
  const response = await fetch(`${stack.emulator.baseUrl}/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${stack.emulator.token}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  })
  const text = await response.text()
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`)
  return JSON.parse(text) as Record<string, unknown>
}

const tunnel: GoTunnel = { namespace, service: "web", org: "personal", ports: [{ name: "http", port: PORT }] }

/** The Go operator's end state: App, Machine and IPv4 on Fly; Service, frpc Deployment and ConfigMap in the cluster. */
const buildGoOperatorEndState = async () => {
  const app = goAppName(tunnel)
  await flyApi("POST", "/apps", { app_name: app, org_slug: tunnel.org })
  const machine = await flyApi("POST", `/apps/${app}/machines`, goMachineRequest(tunnel))
  // The Go operator allocated it through GraphQL (allocateIpAddress, type v4); the emulator speaks the REST
  // equivalent, which makes the same dedicated IPv4.
  const ip = String((await flyApi("POST", `/apps/${app}/ip_assignments`, { type: "v4" })).ip)
  const { configMap, deployment: frpc } = goFrpcObjects(tunnel, ip, goNamespace)
  await kubectl(["apply", "-f", "-"], JSON.stringify({ apiVersion: "v1", kind: "List", items: [configMap, frpc] }))
  await kubectl(
    ["apply", "-f", "-"],
    JSON.stringify({
      apiVersion: "v1",
      kind: "Service",
      metadata: {
        name: tunnel.service,
        namespace,
        finalizers: ["fly-tunnel-operator.dev/finalizer"],
        annotations: goStateAnnotations(tunnel, { machineId: String(machine.id), ip, ipId: "ip_7hx4kq2d" }),
      },
      spec: {
        type: "LoadBalancer",
        loadBalancerClass: "fly-tunnel-operator.dev/lb",
        ports: [{ name: "http", port: PORT, protocol: "TCP" }],
      },
    }),
  )
  // Its status write: a merge patch of the ingress.
  await kubectl([
    "-n",
    namespace,
    "patch",
    "svc",
    tunnel.service,
    "--subresource=status",
    "--type=merge",
    "-p",
    JSON.stringify({ status: { loadBalancer: { ingress: [{ ip }] } } }),
  ])
  return { app, ip, machineId: String(machine.id), frpc: [configMap.metadata?.name, frpc.metadata?.name] }
}

/** Every value the Service's ingress takes, from a watch (each update, not samples). */
const watchIngress = () => {
  const seen: Array<string> = []
  watcher = spawn(tools.kubectl, [
    "--kubeconfig",
    controlPlane.kubeconfigPath,
    "-n",
    namespace,
    "get",
    "svc",
    tunnel.service,
    "--watch",
    "-o",
    'jsonpath={.status.loadBalancer.ingress[*].ip}{"\\n"}',
  ])
  let buffer = ""
  watcher.stdout?.on("data", (chunk: Buffer) => {
    buffer += chunk.toString()
    const lines = buffer.split("\n")
    buffer = lines.pop() ?? ""
    seen.push(...lines)
  })
  return seen
}

const tunnelJson = async () =>
  JSON.parse(await kubectl(["-n", namespace, "get", "flytunnel", tunnel.service, "-o", "json"])) as {
    metadata: { uid: string }
    spec: { adopt?: { app: string; ipv4: string } }
    status?: {
      app?: { name: string; cluster?: string }
      addresses?: Array<{ ip: string; type: string }>
      machines?: Array<{ controlPort?: number }>
      conditions?: Array<{ type: string; status: string; reason: string }>
    }
  }

describe("moving from the Go operator on the local stack: its tunnel adopted, its IPv4 kept", () => {
  it("same IP throughout, bytes flow, the token is required, the old frpc is gone; deleting the Service later removes everything", async () => {
    const go = await buildGoOperatorEndState()
    const clusterIp = (await kubectl(["-n", namespace, "get", "svc", "web", "-o", "jsonpath={.spec.clusterIP}"])).trim()
    backend = await startEchoBackend({ host: clusterIp, port: PORT, exec: stack.serviceNetwork.exec })
    // The Go operator's frpc Pod is started by the node agent (real frpc with its config) before ours starts. It
    // cannot log in — the emulator does not run the Go Machine's `sh -c` init (its images' shell is not emulated), so
    // the old frps is down — and restarts in a loop, as it would against a dead frps.
    await eventually("the Go operator's frpc Pod started", async () =>
      (
        await kubectl([
          "-n",
          goNamespace,
          "get",
          "pods",
          "-l",
          "app.kubernetes.io/name=frpc",
          "-o",
          "jsonpath={.items[*].status.startTime}",
        ])
      ).trim() !== ""
        ? true
        : undefined,
    )
    const seen = watchIngress()
    await eventually("the watch started", () => (seen.length > 0 ? true : undefined))
    const callsBefore = (await stack.emulator.state()).calls.length

    // As the chart runs it with adoption.enabled and adoption.goOperatorNamespace.
    operator = await deployment.start({
      logLevel: "debug",
      env: { ADOPTION_ENABLED: "true", GO_OPERATOR_NAMESPACE: goNamespace },
    })
    await eventually("the adopted tunnel Ready", async () => {
      const status = (await tunnelJson().catch(() => undefined))?.status
      return status?.conditions?.some((item) => item.type === "Ready" && item.status === "True") ? status : undefined
    })
    const flyTunnel = await tunnelJson()
    expect(flyTunnel.spec.adopt).toEqual({ app: go.app, ipv4: go.ip })
    expect(flyTunnel.status?.app?.name).toBe(go.app)
    expect(flyTunnel.status?.conditions?.find((item) => item.type === "AppReady")?.reason).toBe("AppAdopted")

    // Same IP: published first, kept throughout; no other IPv4 ever.
    const ingress = (
      await kubectl(["-n", namespace, "get", "svc", "web", "-o", "jsonpath={.status.loadBalancer.ingress[*].ip}"])
    )
      .trim()
      .split(" ")
    expect(ingress[0]).toBe(go.ip)
    expect(seen.length).toBeGreaterThan(1)
    for (const line of seen) expect(line.split(" ")[0], `ingress seen: ${JSON.stringify(seen)}`).toBe(go.ip)
    const state = await stack.emulator.state()
    const calls = state.calls.slice(callsBefore)
    expect(calls.filter((call) => call.action === "createApp")).toEqual([])
    expect(
      calls.filter((call) => call.action === "createIpAssignment" && call.applied).map((call) => call.ipType),
    ).toEqual(["v6"])
    expect(state.ips.filter((ip) => ip.app === go.app && ip.type === "v4").map((ip) => ip.ip)).toEqual([go.ip])
    // Its Machine replaced by ours; the App marked as this cluster's.
    expect(
      calls.filter((call) => call.action === "deleteMachine" && call.applied).map((call) => call.machineId),
    ).toEqual([go.machineId])
    expect(
      state.machines.filter((machine) => machine.app === go.app && machine.state !== "destroyed").map((m) => m.name),
    ).toEqual(["frps-ord"])
    const cluster = flyTunnel.status?.app?.cluster ?? ""
    expect(cluster).not.toBe("")
    expect(state.secrets.filter((secret) => secret.app === go.app).map((secret) => secret.name)).toContain(
      `FTO_CLUSTER_${cluster.replace(/[^A-Za-z0-9]/g, "").toUpperCase()}`,
    )

    // Bytes flow through the kept address.
    const publicAddress = stack.emulator.publicAddress(go.ip, PORT)
    const sent = `hello through the adopted ${go.ip}`
    const reply = await exchangeUntil(publicAddress.host, publicAddress.port, sent, (data) => data.toString() === sent)
    expect(reply.reply.toString()).toBe(sent)

    // The old frpc is gone: its Deployment, its ConfigMap and its process.
    expect(
      (
        await kubectl([
          "-n",
          goNamespace,
          "get",
          "deployments,configmaps",
          "-l",
          "app.kubernetes.io/name=frpc",
          "-o",
          "name",
        ])
      ).trim(),
    ).toBe("")
    await eventually("the Go operator's frpc Pods and process gone", async () =>
      (await kubectl(["-n", goNamespace, "get", "pods", "-o", "name"])).trim() === "" &&
      (await frpcProcessesOf(tools.frpc, goNamespace)).length === 0
        ? true
        : undefined,
    )

    // The Go operator's frpc config (no token, no client certificate) is refused by the adopted App's frps: frps
    // requires a client certificate from the operator's CA, so it ends the TLS handshake before any login.
    const controlPort = flyTunnel.status?.machines?.[0]?.controlPort
    expect(controlPort).toBeGreaterThanOrEqual(7000)
    const control = stack.emulator.publicAddress(go.ip, controlPort ?? 0)
    // Top-level keys before the proxy tables: exit at the first refused login, and log to the console.
    const goClient = await runClient(
      `loginFailExit = true\nlog.to = "console"\n${goFrpcToml(tunnel, control.host).replace("serverPort = 7000", `serverPort = ${control.port}`)}\n`,
      {},
    )
    expect(goClient.exitCode, goClient.output).not.toBe(0)
    expect(goClient.output).toContain("connect to server error")
    expect(goClient.output).not.toContain("login to server success")

    // And the token is required: our own frpc's config, certificate and key pass the handshake, but with a wrong token
    // the login is refused; with the tunnel's token the same client logs in. Without its proxies: it only logs in.
    const secret = JSON.parse(
      await kubectl(["-n", operatorNamespace, "get", "secret", `frpc-${flyTunnel.metadata.uid}`, "-o", "json"]),
    ) as { data: Record<string, string> }
    const secretValue = (key: string) => Buffer.from(secret.data[key] ?? "", "base64").toString()
    const tlsDir = join(scratch, "tls")
    await mkdir(tlsDir, { recursive: true })
    for (const key of ["ca.crt", "tls.crt", "tls.key"]) await writeFile(join(tlsDir, key), secretValue(key))
    const ourConfig = (secretValue("frpc-ord.toml").split("[[proxies]]")[0] ?? "")
      .replace(/^serverAddr = .*$/m, `serverAddr = "${control.host}"`)
      .replace(/^serverPort = .*$/m, `serverPort = ${control.port}`)
      .replace(/^loginFailExit = .*$/m, "loginFailExit = true")
    expect(ourConfig).toContain("loginFailExit = true")
    const env = { POD_NAME: "token-probe", FRPC_TLS_DIR: tlsDir }
    const wrongToken = await runClient(ourConfig, { ...env, FRP_TOKEN: "not-the-tunnel-token" })
    expect(wrongToken.exitCode, wrongToken.output).not.toBe(0)
    expect(wrongToken.output).toMatch(/token in login doesn't match/)
    const rightToken = await runClient(
      ourConfig,
      { ...env, FRP_TOKEN: secretValue("token") },
      "login to server success",
    )
    expect(rightToken.output).toContain("login to server success")

    // Later: deleting the Service removes the adopted App, its Machine and IPs, and our frpc.
    await kubectl(["-n", namespace, "delete", "svc", "web", "--wait=true", "--timeout=120s"])
    await eventually("Fly empty of the adopted App", async () => {
      const after = await stack.emulator.state()
      return after.apps.length === 0 &&
        after.ips.length === 0 &&
        after.machines.every((machine) => machine.state === "destroyed")
        ? true
        : undefined
    })
    // Only the operator's CA stays: it belongs to the operator and signs every tunnel's certificates.
    expect(
      (
        await kubectl([
          "-n",
          operatorNamespace,
          "get",
          "deployments,secrets",
          "-l",
          "app.kubernetes.io/managed-by=fly-tunnel-operator",
          "-o",
          "name",
        ])
      ).trim(),
    ).toBe("secret/fly-tunnel-operator-ca")
    await eventually("our frpc process gone", async () =>
      (await frpcProcessesOf(tools.frpc, operatorNamespace)).length === 0 ? true : undefined,
    )
  })
})
