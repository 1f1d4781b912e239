import { randomBytes } from "node:crypto"
import { readFile, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import type { EmulatorState } from "@fly-tunnel-operator/fly-emulator"
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
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest"
import { recordE2eFigures } from "./benchReport.ts"
import { frpcProcessesOf } from "./frpcProcesses.ts"
import { type Kubectl, loadBalancerService, makeKubectl, type ServicePort } from "./kubectl.ts"
import { parseProxyProtocolHeader } from "./proxyProtocolHeader.ts"
import { exchangeUntil } from "./tcpExchange.ts"
import { datagramUntil } from "./udpExchange.ts"

const tools = inject("tools")
const controlPlane = inject("controlPlane")
const suffix = randomBytes(3).toString("hex")
const operatorNamespace = `fto-e2e-${suffix}`
const namespace = `e2e-${suffix}`

let stack: LocalStack
let operator: OperatorProcess
let deployment: OperatorDeployment
let kubectl: Kubectl
const backends: Array<EchoBackend> = []

beforeAll(async () => {
  stack = await startLocalStack({ tools, controlPlane })
  deployment = await deployOperator(stack, { tools, namespace: operatorNamespace, release: `fto-${suffix}` })
  operator = await deployment.start({ logLevel: "debug" })
  kubectl = makeKubectl(tools.kubectl, controlPlane.kubeconfigPath)
  await kubectl(["create", "namespace", namespace])
})

afterAll(async () => {
  await Promise.all(backends.map((backend) => backend.stop()))
  await operator?.stop()
  await kubectl?.(["delete", "namespace", namespace, "--wait=false"]).catch(() => {})
  await stack?.stop()
})

// What the operator said, for whoever reads a failure.
afterEach(async ({ task }) => {
  if (task.result?.state !== "fail" || operator === undefined) return
  const path = `${tmpdir()}/fto-tunnel-e2e-operator-${operator.pid}.log`
  await writeFile(path, `${operator.output().join("\n")}\n`)
  process.stdout.write(`operator output: ${path}\n`)
})

const jsonpath = (name: string, path: string) =>
  kubectl(["-n", namespace, "get", "svc", name, "-o", `jsonpath={${path}}`])

/** Applies a Service with kubectl, starts its echo backend on the ClusterIP, waits for EXTERNAL-IP. */
const provision = async (
  name: string,
  port: number,
  annotations: Record<string, string> = {},
  ports?: ReadonlyArray<ServicePort>,
) => {
  const callsBefore = (await stack.emulator.state()).calls.length
  const appliedAt = performance.now()
  await kubectl(["apply", "-f", "-"], JSON.stringify(loadBalancerService(namespace, name, port, annotations, ports)))
  const clusterIp = await jsonpath(name, ".spec.clusterIP")
  backends.push(await startEchoBackend({ host: clusterIp, port, exec: stack.serviceNetwork.exec }))
  const externalIp = await eventually(`EXTERNAL-IP of ${name}`, async () => {
    // Wide: otherwise kubectl sorts the ingress addresses as text and cuts the list at 16 characters.
    const columns = (await kubectl(["-n", namespace, "get", "svc", name, "--no-headers", "-o", "wide"]))
      .trim()
      .split(/\s+/)
    return columns[3]?.split(",").find((ip) => /^\d+\.\d+\.\d+\.\d+$/.test(ip))
  })
  const addressAt = performance.now()
  return {
    clusterIp,
    externalIp,
    appliedAt,
    addressAt,
    callsBefore,
    public: stack.emulator.publicAddress(externalIp, port),
  }
}

const callsByEndpoint = (calls: EmulatorState["calls"]) => {
  const counts: Record<string, number> = {}
  for (const call of calls) counts[call.action] = (counts[call.action] ?? 0) + 1
  return counts
}

const flyIsEmpty = async () => {
  const state = await stack.emulator.state()
  return state.apps.length === 0 && state.machines.length === 0 && state.ips.length === 0 ? state : undefined
}

/** Deletes the Service with kubectl and waits until Fly holds nothing and no frpc process of ours runs. */
const deleteAndWaitForEmpty = async (name: string) => {
  await kubectl(["-n", namespace, "delete", "svc", name, "--wait=true", "--timeout=120s"])
  await eventually("Fly to be empty (no apps, machines or IPs)", flyIsEmpty)
  await eventually("the frpc process to be gone", async () =>
    (await frpcProcessesOf(tools.frpc, operatorNamespace)).length === 0 ? true : undefined,
  )
}

describe("local stack, operator as its own process with the chart's RBAC", () => {
  it("runs as the chart's ServiceAccount, not as the admin", async () => {
    const kubeconfig = await readFile(deployment.identity.kubeconfigPath, "utf8")
    expect(kubeconfig).toContain(`system:serviceaccount:${operatorNamespace}:`)
    expect(kubeconfig).not.toContain("client-certificate-data")
  })

  it("gives a LoadBalancer Service a public address that carries bytes to its backend; deleting it empties Fly", async () => {
    const tunnel = await provision("echo", 7777)
    const sent = `hello through ${tunnel.externalIp}`
    const result = await exchangeUntil(
      tunnel.public.host,
      tunnel.public.port,
      sent,
      (reply) => reply.toString() === sent,
    )
    const firstByteAt = performance.now()
    expect(result.reply.toString()).toBe(sent)
    const provisioned = (await stack.emulator.state()).calls.slice(tunnel.callsBefore)

    const state = await stack.emulator.state()
    expect(state.apps).toHaveLength(1)
    expect(state.machines).toHaveLength(1)
    expect(state.ips.filter((ip) => ip.type === "v4").map((ip) => ip.ip)).toEqual([tunnel.externalIp])
    // The IPv6 carries TCP too, and the Service lists it after the IPv4.
    const ipv6 = state.ips.find((ip) => ip.type === "v6")?.ip ?? ""
    expect((await jsonpath("echo", ".status.loadBalancer.ingress[*].ip")).split(" ")).toEqual([tunnel.externalIp, ipv6])
    const overIpv6 = stack.emulator.publicAddress(ipv6, 7777)
    const sentOverIpv6 = `hello through [${ipv6}]`
    const viaIpv6 = await exchangeUntil(
      overIpv6.host,
      overIpv6.port,
      sentOverIpv6,
      (reply) => reply.toString() === sentOverIpv6,
    )
    expect(viaIpv6.reply.toString()).toBe(sentOverIpv6)
    expect(await frpcProcessesOf(tools.frpc, operatorNamespace)).toHaveLength(1)
    // `kubectl get flytunnels` reads as text.
    const [header, row] = (await kubectl(["-n", namespace, "get", "flytunnels", "echo"]))
      .trim()
      .split("\n")
      .map((line) => line.split(/\s{2,}/))
    const cell = (column: string) => row?.[header?.indexOf(column) ?? -1]
    expect([cell("TARGET"), cell("ADDRESS"), cell("REGIONS"), cell("READY")]).toEqual([
      "svc/echo",
      tunnel.externalIp,
      "ord",
      "True",
    ])

    const callsBeforeDelete = (await stack.emulator.state()).calls.length
    await deleteAndWaitForEmpty("echo")
    const tornDown = (await stack.emulator.state()).calls.slice(callsBeforeDelete)

    const figures = {
      applyToExternalIpMs: Math.round(tunnel.addressAt - tunnel.appliedAt),
      applyToFirstByteMs: Math.round(firstByteAt - tunnel.appliedAt),
      flyCallsToProvision: callsByEndpoint(provisioned),
      flyCallsToTearDown: callsByEndpoint(tornDown),
    }
    const path = await recordE2eFigures("tunnel", figures)
    process.stdout.write(`e2e tunnel figures (${path}):\n${JSON.stringify(figures, null, 2)}\n`)
  })

  it.each(["v2", "v1"] as const)("with PROXY protocol %s the backend sees the client's address", async (version) => {
    const name = `proxied-${version}`
    const tunnel = await provision(name, version === "v2" ? 7802 : 7801, {
      "fly-tunnel-operator.dev/proxy-protocol": version,
    })
    const result = await exchangeUntil(
      tunnel.public.host,
      tunnel.public.port,
      "ping",
      (reply) => parseProxyProtocolHeader(reply)?.payload.toString() === "ping",
    )
    const header = parseProxyProtocolHeader(result.reply)
    expect(header).toMatchObject({
      version: version === "v2" ? 2 : 1,
      source: result.localAddress,
      sourcePort: result.localPort,
      destination: tunnel.externalIp,
    })
    await deleteAndWaitForEmpty(name)
  })

  it("UDP: datagrams come back through the public IPv4, on a UDP-only Service and beside TCP on the same port number", async () => {
    const udpOnly = await provision("udp-only", 7901, {}, [{ name: "dns", port: 7901, protocol: "UDP" }])
    const first = await datagramUntil(udpOnly.public.host, udpOnly.public.port, "datagram through the tunnel")
    expect(first.reply).toBe("datagram through the tunnel")
    // Its one Machine serves UDP, with frps bound where Fly delivers it.
    const app = (await stack.emulator.state()).apps.find((entry) => entry.name.startsWith("fto-udp-only-"))?.name
    const udpMachines = (await stack.emulator.state()).machines.filter((machine) => machine.app === app)
    expect(udpMachines.map((machine) => machine.name)).toEqual(["frps-ord-udp"])

    const both = await provision("udp-and-tcp", 7902, {}, [
      { name: "tcp", port: 7902, protocol: "TCP" },
      { name: "udp", port: 7902, protocol: "UDP" },
    ])
    const overTcp = await exchangeUntil(
      both.public.host,
      both.public.port,
      "tcp too",
      (reply) => reply.toString() === "tcp too",
    )
    expect(overTcp.reply.toString()).toBe("tcp too")
    expect((await datagramUntil(both.public.host, both.public.port, "and udp")).reply).toBe("and udp")
    const state = await stack.emulator.state()
    const bothApp = state.apps.find((entry) => entry.name.startsWith("fto-udp-and-tcp-"))?.name
    expect(
      state.machines
        .filter((machine) => machine.app === bothApp)
        .map((machine) => machine.name)
        .sort(),
    ).toEqual(["frps-ord", "frps-ord-udp"])
    // Fly carries no UDP over IPv6: the condition says so, and the emulator delivers none there.
    const addressReady = JSON.parse(
      await kubectl([
        "-n",
        namespace,
        "get",
        "flytunnel",
        "udp-and-tcp",
        "-o",
        'jsonpath={.status.conditions[?(@.type=="AddressReady")]}',
      ]),
    ) as { message: string }
    expect(addressReady.message).toContain("UDP ports on the IPv4 only")

    await kubectl(["-n", namespace, "delete", "svc", "udp-only", "--wait=true", "--timeout=120s"])
    await deleteAndWaitForEmpty("udp-and-tcp")
  })

  it("serves /healthz, /readyz and /metrics with reconciles, queue depth and Fly calls by endpoint and status", async () => {
    for (const path of ["/healthz", "/readyz"]) {
      expect((await fetch(`${operator.healthUrl}${path}`)).status, path).toBe(200)
    }
    const metrics = await (await fetch(operator.metricsUrl)).text()
    const sample = (pattern: RegExp) =>
      metrics
        .split("\n")
        .filter((line) => pattern.test(line))
        .map((line) => Number(line.split(" ").at(-1)))
    expect(sample(/^controller_reconcile_total\{.*controller="service"/).reduce((a, b) => a + b, 0)).toBeGreaterThan(0)
    expect(sample(/^controller_reconcile_total\{.*controller="tunnel"/).reduce((a, b) => a + b, 0)).toBeGreaterThan(0)
    expect(sample(/^workqueue_depth\{/).length).toBeGreaterThan(0)
    expect(sample(/^fly_api_requests_total\{(?=.*endpoint="createApp")(?=.*status="2\d\d")/)).not.toEqual([])
    expect(sample(/^fly_api_requests_total\{.*endpoint="deleteApp"/)).not.toEqual([])
  })
})
