// Trust on the real path: real frps in emulated Machines, real frpc from the operator's Deployments, the operator as
// its own process with the chart's RBAC. A man in the middle on the control port is refused (and named on the
// tunnel); the tunnel's Secret deleted or its token emptied heals to Ready on the same address.
import { randomBytes } from "node:crypto"
import { writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import {
  deployOperator,
  type EchoBackend,
  type LocalStack,
  type OperatorProcess,
  startEchoBackend,
  startLocalStack,
} from "@fly-tunnel-operator/local-stack"
import { eventually } from "@fly-tunnel-operator/testkit"
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest"
import { type Kubectl, loadBalancerService, makeKubectl } from "./kubectl.ts"
import { exchange, exchangeUntil } from "./tcpExchange.ts"

const tools = inject("tools")
const controlPlane = inject("controlPlane")
const suffix = randomBytes(3).toString("hex")
const operatorNamespace = `fto-trust-${suffix}`
const namespace = `trust-${suffix}`

let stack: LocalStack
let operator: OperatorProcess
let kubectl: Kubectl
const backends: Array<EchoBackend> = []

interface Condition {
  readonly type: string
  readonly status: string
  readonly reason: string
  readonly message: string
}
interface TunnelJson {
  readonly metadata: { readonly uid: string }
  readonly status?: {
    readonly conditions?: ReadonlyArray<Condition>
    readonly app?: { readonly name: string; readonly tokenDigest?: string }
    readonly machines?: ReadonlyArray<{ readonly id: string; readonly controlPort?: number }>
    readonly addresses?: ReadonlyArray<{ readonly ip: string }>
  }
}

beforeAll(async () => {
  stack = await startLocalStack({ tools, controlPlane })
  const deployment = await deployOperator(stack, { tools, namespace: operatorNamespace, release: `fto-${suffix}` })
  // A short resync: Fly's checks are not watched, and the tunnel's Secret is not cached, so both are seen at resync.
  operator = await deployment.start({ env: { RESYNC_SECONDS: "3", LOG_LEVEL: "debug" } })
  kubectl = makeKubectl(tools.kubectl, controlPlane.kubeconfigPath)
  await kubectl(["create", "namespace", namespace])
})

afterAll(async () => {
  await stack?.emulator.clearInterceptions()
  await Promise.all(backends.map((backend) => backend.stop()))
  await operator?.stop()
  await kubectl?.(["delete", "namespace", namespace, "--wait=false"]).catch(() => {})
  await stack?.stop()
})

// What the operator said, for whoever reads a failure.
afterEach(async ({ task }) => {
  if (task.result?.state !== "fail" || operator === undefined) return
  const path = `${tmpdir()}/fto-trust-e2e-operator-${operator.pid}.log`
  await writeFile(path, `${operator.output().join("\n")}\n`)
  process.stdout.write(`operator output: ${path}\n`)
})

const tunnel = async (name: string): Promise<TunnelJson> =>
  JSON.parse(await kubectl(["-n", namespace, "get", "flytunnel", name, "-o", "json"])) as TunnelJson
const condition = (found: TunnelJson, type: string) => found.status?.conditions?.find((item) => item.type === type)

/** A Service of our class with an echo backend on its ClusterIP; resolves once bytes go through its public address. */
const provision = async (name: string, port: number) => {
  await kubectl(["apply", "-f", "-"], JSON.stringify(loadBalancerService(namespace, name, port)))
  const clusterIp = await kubectl(["-n", namespace, "get", "svc", name, "-o", "jsonpath={.spec.clusterIP}"])
  const backend = await startEchoBackend({ host: clusterIp, port, exec: stack.serviceNetwork.exec })
  backends.push(backend)
  const ready = await eventually(`${name} Ready`, async () => {
    const found = await tunnel(name).catch(() => undefined)
    return found !== undefined && condition(found, "Ready")?.status === "True" ? found : undefined
  })
  const ip = ready.status?.addresses?.[0]?.ip ?? ""
  const publicAddress = stack.emulator.publicAddress(ip, port)
  const roundTrip = (payload: string) =>
    exchangeUntil(publicAddress.host, publicAddress.port, payload, (reply) => reply.toString() === payload)
  await roundTrip(`hello ${name}`)
  return { ready, backend, publicAddress, roundTrip }
}

/** Restarts the tunnel's frpc Pods, so they dial frps again (through whatever is on the path now). */
const restartFrpc = (name: string) =>
  kubectl([
    "-n",
    operatorNamespace,
    "delete",
    "pods",
    "-l",
    `fly-tunnel-operator.dev/tunnel-name=${name}`,
    "--wait=false",
  ])

describe("trust on the real path (local stack, real frp, operator with the chart's RBAC)", () => {
  it("a man in the middle on the control port is refused: ClientReady names certificate verification, no byte reaches the backend", async () => {
    const { ready, backend, publicAddress, roundTrip } = await provision("guarded", 7901)
    const app = ready.status?.app?.name ?? ""
    const controlPort = ready.status?.machines?.[0]?.controlPort ?? 0
    expect(controlPort).toBeGreaterThan(0)

    await stack.emulator.interceptTls({ app, port: controlPort })
    await restartFrpc("guarded")
    const refused = await eventually(
      "ClientReady naming certificate verification",
      async () => {
        const found = condition(await tunnel("guarded"), "ClientReady")
        return found?.reason === "CertificateVerificationFailed" ? found : undefined
      },
      120_000,
    )
    expect(refused.status).toBe("False")
    expect(refused.message).toContain("certificate verification failed")
    expect(refused.message).toContain("something between the cluster and Fly terminates TLS")
    expect(condition(await tunnel("guarded"), "Ready")?.status).toBe("False")
    expect((await stack.emulator.state()).proxy.tlsInterceptedConnections).toBeGreaterThan(0)

    // Nothing is carried: the public port answers nothing, and the backend accepts no connection.
    const before = backend.connections()
    for (let attempt = 0; attempt < 3; attempt++) {
      const result = await exchange(publicAddress.host, publicAddress.port, "secret bytes", () => false, 2_000).catch(
        () => undefined,
      )
      expect(result?.reply.toString() ?? "").toBe("")
    }
    expect(backend.connections()).toBe(before)

    // The plain path again (Fly's proxy is itself a plain TCP relay): frpc reconnects, Ready, bytes flow.
    await stack.emulator.clearInterceptions()
    await eventually(
      "Ready again",
      async () => (condition(await tunnel("guarded"), "Ready")?.status === "True" ? true : undefined),
      120_000,
    )
    await roundTrip("verified again")
    expect(backend.connections()).toBeGreaterThan(before)
  })

  it.each([
    [
      "the tunnel's Secret is deleted",
      (uid: string) => kubectl(["-n", operatorNamespace, "delete", "secret", `frpc-${uid}`]),
    ],
    [
      "its token is emptied",
      (uid: string) =>
        kubectl([
          "-n",
          operatorNamespace,
          "patch",
          "secret",
          `frpc-${uid}`,
          "--type=merge",
          "-p",
          '{"data":{"token":""}}',
        ]),
    ],
  ])(
    "heals when %s: a new token reaches Fly, the Machine restarts with it, frpc follows, same address",
    async (_, damage) => {
      const name = `healing-${randomBytes(2).toString("hex")}`
      const { ready, roundTrip } = await provision(name, 7902 + backends.length)
      const uid = ready.metadata.uid
      const digest = ready.status?.app?.tokenDigest
      const callsBefore = (await stack.emulator.state()).calls.length
      await damage(uid)
      const healed = await eventually(
        "Ready with a new token",
        async () => {
          const found = await tunnel(name)
          return found.status?.app?.tokenDigest !== digest && condition(found, "Ready")?.status === "True"
            ? found
            : undefined
        },
        120_000,
      )
      await roundTrip("healed")
      expect(healed.status?.addresses).toEqual(ready.status?.addresses)
      expect(healed.status?.machines?.map((machine) => machine.id)).toEqual(ready.status?.machines?.map((m) => m.id))
      const calls = (await stack.emulator.state()).calls.slice(callsBefore).filter((call) => call.method !== "GET")
      const app = ready.status?.app?.name
      expect(
        calls
          .filter((call) => call.app === app)
          .map((call) => call.action)
          .sort(),
      ).toEqual(["setSecrets", "updateMachine"])
      // The Secret holds a real token again (never an empty one).
      const token = Buffer.from(
        await kubectl(["-n", operatorNamespace, "get", "secret", `frpc-${uid}`, "-o", "jsonpath={.data.token}"]),
        "base64",
      ).toString()
      expect(token).toMatch(/^[0-9a-f]{64}$/)
    },
  )

  it("publishes an address target on the LAN under the default policy, and refuses loopback before Fly", async () => {
    const port = 9000
    const backend = await startEchoBackend({ host: stack.lanHost.address, port, exec: stack.lanHost.exec })
    backends.push(backend)
    const apply = (name: string, host: string) =>
      kubectl(
        ["apply", "-f", "-"],
        JSON.stringify({
          apiVersion: "fly-tunnel-operator.dev/v1alpha1",
          kind: "FlyTunnel",
          metadata: { name, namespace },
          spec: { target: { address: { host } }, ports: [{ name: "echo", port }], regions: ["ord"] },
        }),
      )
    await apply("lan-host", stack.lanHost.address)
    const ready = await eventually(
      "lan-host Ready",
      async () => {
        const found = await tunnel("lan-host")
        return condition(found, "Ready")?.status === "True" ? found : undefined
      },
      120_000,
    )
    expect((ready.status as { targetAddress?: string } | undefined)?.targetAddress).toBe(stack.lanHost.address)
    const publicAddress = stack.emulator.publicAddress(ready.status?.addresses?.[0]?.ip ?? "", port)
    await exchangeUntil(
      publicAddress.host,
      publicAddress.port,
      "to the LAN",
      (reply) => reply.toString() === "to the LAN",
    )
    expect(backend.connections()).toBeGreaterThan(0)

    const appsBefore = (await stack.emulator.state()).apps.length
    await apply("loopback", "127.0.0.1")
    const refused = await eventually("loopback refused", async () => {
      const found = condition(await tunnel("loopback"), "Ready")
      return found?.reason === "InvalidSpec" ? found : undefined
    })
    expect(refused.message).toBe("spec.target.address.host: 127.0.0.1 is loopback, which is never published")
    const uid = (await tunnel("loopback")).metadata.uid
    const state = await stack.emulator.state()
    expect(state.apps.length).toBe(appsBefore)
    expect(state.calls.filter((call) => call.path.includes(uid))).toEqual([])

    // The cluster's own Service range, as the operator discovers it with the chart's RBAC (a ServiceCIDR): the
    // ClusterIP of the API server's Service is a private address the default policy would otherwise allow.
    const apiServerClusterIp = await kubectl([
      "-n",
      "default",
      "get",
      "svc",
      "kubernetes",
      "-o",
      "jsonpath={.spec.clusterIP}",
    ])
    await apply("cluster-ip", apiServerClusterIp)
    const clusterIpRefused = await eventually("the ClusterIP refused", async () => {
      const found = condition(await tunnel("cluster-ip"), "Ready")
      return found?.reason === "InvalidSpec" ? found : undefined
    })
    expect(clusterIpRefused.message).toContain(
      `spec.target.address.host: ${apiServerClusterIp} is in the cluster's Service range ${controlPlane.serviceCidr}`,
    )
  })
})
