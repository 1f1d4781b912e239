import type { LocalStack } from "@fly-tunnel-operator/local-stack"
import { type EchoBackend, startEchoBackend } from "@fly-tunnel-operator/local-stack"
import { AppsV1Api, CoreV1Api, CustomObjectsApi, KubeConfig } from "@kubernetes/client-node"
import { loadBalancerService } from "../local/kubectl.ts"
import { exchange } from "../local/tcpExchange.ts"

/** When each step of one tunnel's provisioning was first seen, in ms after the Service was applied. */
export interface Milestones {
  readonly appCreated?: number
  readonly addressAllocated?: number
  readonly frpcApplied?: number
  readonly machineStarted?: number
  readonly frpcAvailable?: number
  readonly checksPassing?: number
  readonly ready?: number
  readonly externalIp?: number
  readonly firstByte?: number
}

export interface AddressRun {
  readonly service: string
  readonly milestones: Milestones
  readonly applyToExternalIpMs: number
  readonly applyToFirstByteMs: number
  /** EXTERNAL-IP minus first byte: positive when the address appeared after bytes already flowed. */
  readonly externalIpAfterFirstByteMs: number
  readonly flyCalls: Readonly<Record<string, number>>
}

const POLL_MS = 25
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * Applies one LoadBalancer Service and watches everything until bytes flow through its public address and its
 * EXTERNAL-IP is set: the emulator's state (in-process), the FlyTunnel, the frpc Deployment and the Service (API
 * server, every 25 ms), and a client that keeps trying the public address from the moment it is allocated.
 */
export const measureTimeToAddress = async (options: {
  readonly stack: LocalStack
  readonly namespace: string
  readonly operatorNamespace: string
  readonly name: string
  readonly port: number
  readonly timeoutMs?: number
}): Promise<{
  run: AddressRun
  backend: EchoBackend
  publicAddress: { host: string; port: number }
  clusterIp: string
}> => {
  const { stack, namespace, name, port } = options
  const config = new KubeConfig()
  config.loadFromFile(stack.controlPlane.kubeconfigPath)
  const core = config.makeApiClient(CoreV1Api)
  const apps = config.makeApiClient(AppsV1Api)
  const custom = config.makeApiClient(CustomObjectsApi)
  const callsBefore = (await stack.emulator.state()).calls.length
  // The clock starts as the Service's create is sent to the API server: what `kubectl apply` sends, without kubectl's
  // own start (a process, its discovery and OpenAPI reads), which is the client's time, not the operator's.
  const appliedAt = performance.now()
  await core.createNamespacedService({ namespace, body: loadBalancerService(namespace, name, port) })
  const seen: Record<string, number> = {}
  const mark = (step: keyof Milestones) => {
    seen[step] ??= Math.round(performance.now() - appliedAt)
  }
  const service = await core.readNamespacedService({ name, namespace })
  const clusterIp = service.spec?.clusterIP ?? ""
  const backend = await startEchoBackend({ host: clusterIp, port, exec: options.stack.serviceNetwork.exec })
  const deadline = Date.now() + (options.timeoutMs ?? 120_000)
  let appName: string | undefined
  let address: { host: string; port: number } | undefined
  let uid = ""

  // The byte prober: from the moment the address exists, one connection after the other until an echo comes back.
  const prober = (async () => {
    while (Date.now() < deadline) {
      if (address !== undefined) {
        const reply = await exchange(address.host, address.port, "ping", (got) => got.toString() === "ping", 1_000)
          .then((result) => result.reply.toString())
          .catch(() => "")
        if (reply === "ping") return mark("firstByte")
      }
      await sleep(POLL_MS)
    }
  })()

  const tunnelStatus = () =>
    custom
      .getNamespacedCustomObject({
        group: "fly-tunnel-operator.dev",
        version: "v1alpha1",
        namespace,
        plural: "flytunnels",
        name,
      })
      .then(
        (tunnel) =>
          tunnel as {
            metadata?: { uid?: string }
            status?: { conditions?: Array<{ type: string; status: string }> }
          },
      )
      .catch(() => undefined)
  // Every source is read at once each round, so a step is seen within one round (about 25 ms plus the slowest read).
  while (Date.now() < deadline && (seen.externalIp === undefined || seen.firstByte === undefined)) {
    const [state, tunnel, deployments, current] = await Promise.all([
      stack.emulator.state(),
      tunnelStatus(),
      uid === ""
        ? Promise.resolve(undefined)
        : apps.listNamespacedDeployment({
            namespace: options.operatorNamespace,
            labelSelector: `fly-tunnel-operator.dev/tunnel-uid=${uid}`,
          }),
      core.readNamespacedServiceStatus({ name, namespace }),
    ])
    uid ||= tunnel?.metadata?.uid ?? ""
    appName ??= state.apps.find((app) => uid !== "" && app.name.endsWith(uid))?.name
    if (appName !== undefined) {
      mark("appCreated")
      const ip = state.ips.find((entry) => entry.app === appName && entry.type === "v4")
      if (ip !== undefined) {
        mark("addressAllocated")
        address ??= stack.emulator.publicAddress(ip.ip, port)
      }
      const machines = state.machines.filter((machine) => machine.app === appName)
      if (machines.length > 0 && machines.every((machine) => machine.state === "started")) mark("machineStarted")
      if (
        machines.length > 0 &&
        machines.every(
          (machine) =>
            (machine.checks ?? []).length > 0 && machine.checks?.every((check) => check.status === "passing"),
        )
      )
        mark("checksPassing")
    }
    if (deployments !== undefined && deployments.items.length > 0) {
      mark("frpcApplied")
      if (deployments.items.every((item) => (item.status?.availableReplicas ?? 0) >= 1)) mark("frpcAvailable")
    }
    if (tunnel?.status?.conditions?.some((condition) => condition.type === "Ready" && condition.status === "True"))
      mark("ready")
    if ((current.status?.loadBalancer?.ingress ?? []).some((ingress) => ingress.ip)) mark("externalIp")
    await sleep(POLL_MS)
  }
  await prober
  if (seen.externalIp === undefined || seen.firstByte === undefined || address === undefined)
    throw new Error(`${name}: no EXTERNAL-IP or no bytes within the time allowed (${JSON.stringify(seen)})`)
  const flyCalls: Record<string, number> = {}
  for (const call of (await stack.emulator.state()).calls.slice(callsBefore)) {
    if (call.app !== undefined && call.app !== appName) continue
    flyCalls[call.action] = (flyCalls[call.action] ?? 0) + 1
  }
  return {
    run: {
      service: name,
      milestones: seen,
      applyToExternalIpMs: seen.externalIp,
      applyToFirstByteMs: seen.firstByte,
      externalIpAfterFirstByteMs: seen.externalIp - seen.firstByte,
      flyCalls,
    },
    backend,
    publicAddress: address,
    clusterIp,
  }
}
