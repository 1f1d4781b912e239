import { execFile } from "node:child_process"
import { mkdtemp, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import { type Action, type RunningEmulator, startEmulator } from "@fly-tunnel-operator/fly-emulator"
import {
  deployOperator,
  type EchoBackend,
  ensureTools,
  type OperatorProcess,
  startEchoBackend,
  startLocalStack,
  startOperatorProcess,
} from "@fly-tunnel-operator/local-stack"
import { operatorBundleScript } from "@fly-tunnel-operator/operator"
import { eventually } from "@fly-tunnel-operator/testkit"
import { loadBalancerService, makeKubectl } from "../local/kubectl.ts"
import { exchangeUntil } from "../local/tcpExchange.ts"
import { criticalPathMs, flyLikeLatencyMs } from "./flyLatency.ts"
import { residentMiB } from "./processMemory.ts"
import { type AddressRun, type LoadFigures, writeBenchReport } from "./report.ts"

/**
 * `pnpm bench`: on the local stack, in one run — time to address with Fly-like API latency beside the Fly critical
 * path, round trips and throughput through a tunnel beside a direct connection to the same backend, and the
 * operator's memory with 1, 50 and 200 tunnels. Writes .bench/report.json and .bench/report.md. Every wait is
 * bounded; everything started is removed at the end, also on failure.
 */
const ADDRESS_RUNS = 3
const TUNNEL_COUNTS = [1, 50, 200]
const OPERATOR_NAMESPACE = "fly-tunnel-operator"
const NAMESPACE = "bench"
const TCP_LOAD = fileURLToPath(new URL("./tcpLoad.ts", import.meta.url))

const progress = (line: string) => process.stderr.write(`[bench] ${line}\n`)
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const median = (values: ReadonlyArray<number>) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0

const tcpLoad = (host: string, port: number) =>
  new Promise<LoadFigures>((resolve, reject) =>
    execFile(process.execPath, [TCP_LOAD, host, String(port)], { timeout: 300_000 }, (error, stdout, stderr) =>
      error ? reject(new Error(`tcpLoad ${host}:${port}: ${stderr || error.message}`)) : resolve(JSON.parse(stdout)),
    ),
  )

const tools = await ensureTools({ onProgress: progress })
const stack = await startLocalStack({ tools, log: progress })
const kubectl = makeKubectl(tools.kubectl, stack.controlPlane.kubeconfigPath)
const backends: Array<EchoBackend> = []
let operator: OperatorProcess | undefined
let memoryFly: RunningEmulator | undefined
const scratch = await mkdtemp(join(tmpdir(), "fto-bench-"))
let exitCode = 0

try {
  const deployment = await deployOperator(stack, { tools, namespace: OPERATOR_NAMESPACE })
  operator = await deployment.start()
  await kubectl(["create", "namespace", NAMESPACE])

  // 1. Time to address with Fly-like latency.
  await stack.emulator.setLatency(
    Object.fromEntries(Object.entries(flyLikeLatencyMs).map(([action, ms]) => [action, { ms }])) as Record<
      Action,
      { ms: number }
    >,
  )
  const runs: Array<AddressRun> = []
  let flyCallsPerTunnel: Record<string, number> = {}
  let tunnel: { publicHost: string; publicPort: number; clusterIp: string; port: number } | undefined
  for (let run = 0; run < ADDRESS_RUNS; run++) {
    const name = `address-${run}`
    const port = 9000 + run
    const callsBefore = (await stack.emulator.state()).calls.length
    const appliedAt = performance.now()
    await kubectl(["apply", "-f", "-"], JSON.stringify(loadBalancerService(NAMESPACE, name, port)))
    const clusterIp = await kubectl(["-n", NAMESPACE, "get", "svc", name, "-o", "jsonpath={.spec.clusterIP}"])
    backends.push(await startEchoBackend({ host: clusterIp, port, exec: stack.serviceNetwork.exec }))
    const externalIp = await eventually(`EXTERNAL-IP of ${name}`, async () => {
      const ip = await kubectl([
        "-n",
        NAMESPACE,
        "get",
        "svc",
        name,
        "-o",
        "jsonpath={.status.loadBalancer.ingress[0].ip}",
      ])
      return ip === "" ? undefined : ip
    })
    const addressAt = performance.now()
    const target = stack.emulator.publicAddress(externalIp, port)
    await exchangeUntil(target.host, target.port, "ping", (reply) => reply.toString() === "ping", 120_000)
    const firstByteAt = performance.now()
    runs.push({
      applyToExternalIpMs: Math.round(addressAt - appliedAt),
      applyToFirstByteMs: Math.round(firstByteAt - appliedAt),
    })
    progress(`time to address, run ${run + 1}: ${JSON.stringify(runs.at(-1))}`)
    if (run === 0) {
      flyCallsPerTunnel = {}
      for (const call of (await stack.emulator.state()).calls.slice(callsBefore)) {
        flyCallsPerTunnel[call.action] = (flyCallsPerTunnel[call.action] ?? 0) + 1
      }
      tunnel = { publicHost: target.host, publicPort: target.port, clusterIp, port }
    }
  }
  await stack.emulator.setLatency(
    Object.fromEntries(Object.keys(flyLikeLatencyMs).map((action) => [action, null])) as Record<Action, null>,
  )
  if (tunnel === undefined) throw new Error("no tunnel was provisioned")

  // 2. Data path: the same echo backend through the tunnel and directly.
  progress("round trips and throughput through the tunnel")
  const throughTunnel = await tcpLoad(tunnel.publicHost, tunnel.publicPort)
  progress("round trips and throughput directly to the backend")
  const direct = await tcpLoad(tunnel.clusterIp, tunnel.port)

  // 3. Operator memory with 1, 50 and 200 tunnels: the bundled operator, as the image runs it, against an in-memory
  // Fly. Its public IPs are not on this host, so the node agent is stopped first and no frpc dials them (the frpc
  // Pods stay Pending).
  progress("operator memory: bundling the operator; in-memory Fly emulator; node agent stopped")
  const bundle = join(scratch, "operator.mjs")
  await promisify(execFile)(process.execPath, [operatorBundleScript, bundle])
  await operator.stop()
  await stack.nodeAgent.stop()
  memoryFly = await startEmulator({})
  const memoryToken = join(scratch, "fly-api-token")
  await writeFile(memoryToken, memoryFly.token, { mode: 0o600 })
  operator = await startOperatorProcess({
    kubeconfigPath: deployment.identity.kubeconfigPath,
    flyApiBaseUrl: memoryFly.baseUrl,
    flyApiTokenFile: memoryToken,
    operatorNamespace: OPERATOR_NAMESPACE,
    entry: bundle,
  })
  await kubectl(["create", "namespace", "bench-memory"])
  const operatorMemory: Array<{ tunnels: number; rssMiB: number }> = []
  let created = 0
  for (const count of TUNNEL_COUNTS) {
    const items = Array.from({ length: count - created }, (_, i) => ({
      apiVersion: "fly-tunnel-operator.dev/v1alpha1",
      kind: "FlyTunnel",
      metadata: { name: `memory-${created + i}`, namespace: "bench-memory" },
      spec: {
        target: { address: { host: "192.168.100.10" } },
        ports: [{ name: "tcp", port: 8000, targetPort: 8000 }],
        regions: ["ord"],
      },
    }))
    await kubectl(["apply", "-f", "-"], JSON.stringify({ apiVersion: "v1", kind: "List", items }))
    created = count
    await eventually(
      `${count} tunnels with an address on Fly`,
      async () => {
        const state = await memoryFly?.state()
        return state !== undefined && state.apps.length >= count && state.ips.length >= count ? true : undefined
      },
      600_000,
    )
    // Let the reconciles settle, then take the highest of a few samples.
    await sleep(10_000)
    const samples: Array<number> = []
    for (let i = 0; i < 5; i++) {
      samples.push(await residentMiB(operator.pid))
      await sleep(1_000)
    }
    operatorMemory.push({ tunnels: count, rssMiB: Math.max(...samples) })
    progress(`operator RSS with ${count} tunnel(s): ${Math.max(...samples).toFixed(1)} MiB`)
  }

  const criticalMs = criticalPathMs(flyLikeLatencyMs)
  const medianMs = median(runs.map((run) => run.applyToExternalIpMs))
  const paths = await writeBenchReport({
    at: new Date().toISOString(),
    timeToAddress: {
      flyLatencyMs: flyLikeLatencyMs,
      criticalPathMs: criticalMs,
      runs,
      medianApplyToExternalIpMs: medianMs,
      ratio: medianMs / criticalMs,
      flyCallsPerTunnel,
    },
    dataPath: {
      tunnel: throughTunnel,
      direct,
      p50Ratio: throughTunnel.roundTrip.p50Ms / direct.roundTrip.p50Ms,
      p99Ratio: throughTunnel.roundTrip.p99Ms / direct.roundTrip.p99Ms,
      throughputRatio: throughTunnel.throughput.mbPerSecond / direct.throughput.mbPerSecond,
    },
    operatorMemory,
  })
  progress(`report: ${paths.join(", ")}`)
} catch (error) {
  progress(`failed: ${error instanceof Error ? error.message : String(error)}`)
  exitCode = 1
} finally {
  await Promise.all(backends.map((backend) => backend.stop()))
  await operator?.stop()
  await memoryFly?.close()
  await stack.stop()
  await rm(scratch, { recursive: true, force: true })
}
process.exit(exitCode)
