import { createWriteStream } from "node:fs"
import { mkdtemp, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { type RunningEmulator, startEmulator } from "@fly-tunnel-operator/fly-emulator"
import { type ControlPlaneEndpoint, startControlPlane } from "../controlPlane/controlPlane.ts"
import { type RunningLanHost, startLanHost } from "../lanHost/lanHost.ts"
import { type NodeAgent, startNodeAgent } from "../nodeAgent/nodeAgent.ts"
import { type RunningServiceNetwork, startServiceNetwork } from "../serviceNetwork/serviceNetwork.ts"
import type { Tools } from "../tools/toolNames.ts"

export interface LocalStackOptions {
  readonly tools: Tools
  /** Use this running control plane (a test run's) instead of starting one; it is left running on stop. */
  readonly controlPlane?: ControlPlaneEndpoint
  /** Use this running emulator (one Fly organization shared by two clusters); it is left running on stop. */
  readonly emulator?: RunningEmulator
  /** Progress lines while the stack boots. */
  readonly log?: (line: string) => void
}

/**
 * Everything but the operator: a control plane, the service network that stands in for kube-proxy (ClusterIPs are
 * reachable from the host and bindable by backends run with `serviceNetwork.exec`), the Fly emulator with its
 * machine runtime (real frps in network namespaces), a node agent that runs frpc Pods as processes, and a LAN host
 * (a network namespace with a private address) that an address target can publish.
 */
export interface LocalStack {
  readonly controlPlane: ControlPlaneEndpoint
  readonly serviceNetwork: RunningServiceNetwork
  readonly emulator: RunningEmulator
  readonly nodeAgent: NodeAgent
  /** A private-address host beside the cluster, for FlyTunnels with an address target. */
  readonly lanHost: RunningLanHost
  /** A 0600 file holding the emulator's API token, for FLY_API_TOKEN_FILE. */
  readonly flyApiTokenFile: string
  /** Stops and removes everything this stack started, in reverse order. */
  stop(): Promise<void>
}

export const startLocalStack = async (options: LocalStackOptions): Promise<LocalStack> => {
  const log = options.log ?? (() => {})
  const cleanups: Array<() => Promise<void>> = []
  const stop = async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch((error) => log(`cleanup: ${error}`))
  }
  try {
    // The service network first: it claims a free service range that the control plane then allocates from.
    const serviceNetwork = await startServiceNetwork(
      options.controlPlane ? { serviceCidr: options.controlPlane.serviceCidr } : {},
    )
    cleanups.push(() => serviceNetwork.stop())
    log(`service network ${serviceNetwork.namespace} routes ${serviceNetwork.serviceCidr}`)

    let controlPlane = options.controlPlane
    if (controlPlane === undefined) {
      log("starting the control plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler)")
      const started = await startControlPlane({ tools: options.tools, serviceCidr: serviceNetwork.serviceCidr, log })
      cleanups.push(() => started.stop())
      controlPlane = started
    }

    let emulator = options.emulator
    if (emulator === undefined) {
      log("starting the Fly emulator with its machine runtime")
      const started = await startEmulator({ frpsPath: options.tools.frps, network: "auto" })
      cleanups.push(() => started.close())
      emulator = started
    }
    log(`Fly emulator at ${emulator.baseUrl}`)

    // The token file and the node agent's log; removed on stop.
    const workDir = await mkdtemp(join(tmpdir(), "fto-local-stack-"))
    cleanups.push(() => rm(workDir, { recursive: true, force: true }))
    const flyApiTokenFile = join(workDir, "fly-api-token")
    await writeFile(flyApiTokenFile, emulator.token, { mode: 0o600 })

    const nodeAgentLog = createWriteStream(join(workDir, "node-agent.log"))
    cleanups.push(async () => void nodeAgentLog.end())
    const nodeAgent = await startNodeAgent({
      kubeconfigPath: controlPlane.kubeconfigPath,
      frpcPath: options.tools.frpc,
      nodeName: `fto-local-${process.pid}`,
      log: (line) => nodeAgentLog.write(`${new Date().toISOString()} ${line}\n`),
    })
    cleanups.push(() => nodeAgent.stop())
    log(`node agent runs frpc Pods on node ${nodeAgent.nodeName} (log: ${nodeAgentLog.path})`)

    const lanHost = await startLanHost()
    cleanups.push(() => lanHost.stop())
    log(`LAN host ${lanHost.address} (network namespace ${lanHost.namespace}) for address targets`)

    return { controlPlane, serviceNetwork, emulator, nodeAgent, lanHost, flyApiTokenFile, stop }
  } catch (error) {
    await stop()
    throw error
  }
}
