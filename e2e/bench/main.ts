import { execFile } from "node:child_process"
import { mkdtemp, rm } from "node:fs/promises"
import { cpus, release, tmpdir, totalmem } from "node:os"
import { join } from "node:path"
import { promisify } from "node:util"
import type { Action } from "@fly-tunnel-operator/fly-emulator"
import {
  deployOperator,
  type EchoBackend,
  ensureTools,
  type OperatorProcess,
  startLocalStack,
} from "@fly-tunnel-operator/local-stack"
import { operatorBundleScript, operatorEnvironment, operatorNodeOptions } from "@fly-tunnel-operator/operator"
import { CoreV1Api, KubeConfig, PatchStrategy, setHeaderOptions } from "@kubernetes/client-node"
import { makeKubectl } from "../local/kubectl.ts"
import { measureRest, measureRestart } from "./atRest.ts"
import { measureDataPath } from "./dataPath.ts"
import {
  criticalPath,
  describePath,
  flyLikeLatencyMs,
  GO_OPERATOR_KUBE_WRITES,
  goOperatorPath,
  pathMs,
} from "./flyLatency.ts"
import { cpuSeconds } from "./processCpu.ts"
import { residentMiB } from "./processMemory.ts"
import { writeBenchReport } from "./report.ts"
import { measureScale } from "./scale.ts"
import { type AddressRun, measureTimeToAddress } from "./timeToAddress.ts"

/**
 * `pnpm bench`: every figure of the operator's performance, side by side in one run on the local stack, written to
 * .bench/report.md (and .json, and two SVG charts): time to address against the Fly critical path and the Go
 * operator's path; where data-path time goes (direct, the emulated Fly proxy alone, frp alone in each transport
 * variant, the tunnel); the bundled operator's memory; BENCH_SCALE (200) Services applied at once under Fly's rate
 * limits; then BENCH_REST_MINUTES (10) at rest while as many Services of another class keep changing, and a
 * restart. Every wait is bounded; everything started is removed at the end, also on failure.
 */
const settings = (() => {
  const restMinutes = Number(process.env.BENCH_REST_MINUTES ?? "10")
  const scale = Number(process.env.BENCH_SCALE ?? "200")
  // At least two drift checks within the window.
  const resyncSeconds = Number(
    process.env.BENCH_RESYNC_SECONDS ?? String(Math.max(30, Math.floor((restMinutes * 60) / 2.5))),
  )
  if (![restMinutes, scale, resyncSeconds].every((value) => Number.isFinite(value) && value > 0))
    throw new Error("BENCH_REST_MINUTES, BENCH_SCALE and BENCH_RESYNC_SECONDS must be positive numbers")
  return { restMinutes, scale, resyncSeconds }
})()
const ADDRESS_RUNS = 3
const OPERATOR_NAMESPACE = "fly-tunnel-operator"
const NAMESPACE = "bench"
/** Fly's App creation limit: 1 a second after a burst of 3, per org. */
const CREATE_APP = { perSecond: 1, burst: 3 }

const progress = (line: string) => process.stderr.write(`[bench] ${new Date().toISOString().slice(11, 19)} ${line}\n`)
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const median = (values: ReadonlyArray<number>) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0
/** RSS moves with the garbage collector's timing: the median of a sample a second over `samples` seconds. */
const rssOf = async (pid: number, samples = 20) => {
  const seen: Array<number> = []
  for (let i = 0; i < samples; i++) {
    seen.push(await residentMiB(pid))
    await sleep(1_000)
  }
  return median(seen)
}

const benchStart = performance.now()
const tools = await ensureTools({ onProgress: progress })
const stack = await startLocalStack({ tools, log: progress })
const kubectl = makeKubectl(tools.kubectl, stack.controlPlane.kubeconfigPath)
const backends: Array<EchoBackend> = []
let operator: OperatorProcess | undefined
const scratch = await mkdtemp(join(tmpdir(), "fto-bench-"))
let exitCode = 0

try {
  const deployment = await deployOperator(stack, { tools, namespace: OPERATOR_NAMESPACE })
  progress("bundling the operator as the image runs it")
  const bundle = join(scratch, "operator.mjs")
  await promisify(execFile)(process.execPath, [operatorBundleScript, bundle])
  const startOperator = () =>
    deployment.start({
      entry: bundle,
      nodeOptions: operatorNodeOptions,
      env: { ...operatorEnvironment, RESYNC_SECONDS: String(settings.resyncSeconds) },
    })
  await stack.emulator.setLatency(
    Object.fromEntries(Object.entries(flyLikeLatencyMs).map(([action, ms]) => [action, { ms }])) as Record<
      Action,
      { ms: number }
    >,
  )
  for (const namespace of [NAMESPACE, "bench-scale", "bench-other"]) await kubectl(["create", "namespace", namespace])
  operator = await startOperator()
  await sleep(5_000)
  const idleMiB = await rssOf(operator.pid)
  progress(`operator RSS, started with no tunnel: ${idleMiB.toFixed(1)} MiB`)

  // A Kubernetes write's round trip here, for the Go operator's path.
  const config = new KubeConfig()
  config.loadFromFile(stack.controlPlane.kubeconfigPath)
  const core = config.makeApiClient(CoreV1Api)
  await core.createNamespacedConfigMap({ namespace: NAMESPACE, body: { metadata: { name: "write-probe" } } })
  const writes: Array<number> = []
  for (let i = 0; i < 10; i++) {
    const started = performance.now()
    await core.patchNamespacedConfigMap(
      { name: "write-probe", namespace: NAMESPACE, body: { data: { i: String(i) } } },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    )
    writes.push(performance.now() - started)
  }
  const kubeWriteMs = Math.round(median(writes))

  // 1. Time to address, with Fly-like latency; memory with one tunnel after the first.
  const runs: Array<AddressRun> = []
  let first: Awaited<ReturnType<typeof measureTimeToAddress>> | undefined
  let oneTunnelMiB = 0
  for (let run = 0; run < ADDRESS_RUNS; run++) {
    const measured = await measureTimeToAddress({
      stack,
      namespace: NAMESPACE,
      operatorNamespace: OPERATOR_NAMESPACE,
      name: `address-${run}`,
      port: 9000 + run,
    })
    backends.push(measured.backend)
    runs.push(measured.run)
    first ??= measured
    progress(`time to address, run ${run + 1}: ${JSON.stringify(measured.run.milestones)}`)
    if (run === 0) {
      await sleep(5_000)
      oneTunnelMiB = await rssOf(operator.pid)
      progress(`operator RSS with 1 tunnel: ${oneTunnelMiB.toFixed(1)} MiB`)
    }
  }
  if (first === undefined) throw new Error("no tunnel was provisioned")

  // 2. Data path.
  const dataPath = await measureDataPath({
    tools,
    tunnel: first.publicAddress,
    // The emulator (its Fly proxy) runs in this process: measureDataPath counts process.pid as the proxy.
    clusterIp: { host: first.clusterIp, port: 9000, pid: first.backend.pid },
    progress,
  })

  // 3. Services at once, under Fly's limits.
  progress(`${settings.scale} Services applied at once`)
  const running = operator
  const cpuBeforeScale = await cpuSeconds(operator.pid)
  const scale = await measureScale({
    stack,
    kubectl,
    namespace: "bench-scale",
    count: settings.scale,
    operatorPid: () => running.pid,
    progress,
    timeoutMs: (settings.scale * 4 + 300) * 1000,
  })
  const scaleCpuSeconds = (await cpuSeconds(operator.pid)) - cpuBeforeScale
  const criticalPathMs = pathMs(criticalPath, flyLikeLatencyMs)
  const lastCreateAfterS = Math.max(0, settings.scale - CREATE_APP.burst) / CREATE_APP.perSecond
  const boundMs = lastCreateAfterS * 1000 + criticalPathMs
  await sleep(20_000)
  const atScaleMiB = await rssOf(operator.pid)
  const tunnels = settings.scale + ADDRESS_RUNS
  progress(`operator RSS with ${tunnels} tunnels: ${atScaleMiB.toFixed(1)} MiB`)

  // 4. At rest while Services of another class change; then a restart.
  progress(`at rest for ${settings.restMinutes} min, ${settings.scale} Services of another class changing`)
  const cpuBeforeRest = await cpuSeconds(operator.pid)
  const rest = await measureRest({
    stack,
    kubectl,
    operator,
    namespace: "bench-other",
    others: settings.scale,
    minutes: settings.restMinutes,
    resyncSeconds: settings.resyncSeconds,
    tunnels,
    progress,
  })
  const restCpuSeconds = (await cpuSeconds(operator.pid)) - cpuBeforeRest
  progress("operator restart")
  const stopping = operator
  const restarted = await measureRestart({
    stack,
    start: startOperator,
    stop: () => stopping.stop(),
    tunnels,
    progress,
  })
  operator = restarted.operator

  const cpu = cpus()
  const paths = await writeBenchReport(
    {
      at: new Date().toISOString(),
      durationSeconds: Math.round((performance.now() - benchStart) / 1000),
      machine: {
        cpus: cpu.length,
        cpuModel: cpu[0]?.model ?? "unknown",
        memoryGiB: totalmem() / 1024 ** 3,
        node: process.version,
        kernel: release(),
      },
      settings,
      timeToAddress: {
        flyLatencyMs: flyLikeLatencyMs,
        criticalPath: describePath(criticalPath),
        criticalPathMs,
        goPath: describePath(goOperatorPath),
        goPathMs: pathMs(goOperatorPath, flyLikeLatencyMs) + GO_OPERATOR_KUBE_WRITES * kubeWriteMs,
        kubeWriteMs,
        runs,
      },
      dataPath,
      memory: { idleMiB, oneTunnelMiB, atScaleMiB, scaleCpuSeconds, restCpuSeconds },
      scale: {
        ...scale,
        boundMs,
        bound: `Fly creates Apps at ${CREATE_APP.perSecond} a second after a burst of ${CREATE_APP.burst} per org, so the last of ${settings.scale} Apps cannot be created before ${lastCreateAfterS} s; its tunnel then needs at least the rest of the critical path (${criticalPathMs} ms, the App's create included)`,
      },
      rest,
      restart: restarted.figures,
    },
    [
      { tunnels: 0, rssMiB: idleMiB, phase: "started, then 1 tunnel" },
      { tunnels: 1, rssMiB: oneTunnelMiB, phase: "started, then 1 tunnel" },
      ...scale.rss
        .filter((_, index) => index % 10 === 0)
        .map((sample) => ({
          tunnels: sample.tunnels + ADDRESS_RUNS,
          rssMiB: sample.rssMiB,
          phase: "Services applied at once",
        })),
      { tunnels, rssMiB: atScaleMiB, phase: "Services applied at once" },
      ...rest.rss.map((sample) => ({ tunnels, rssMiB: sample.rssMiB, phase: "at rest, other classes changing" })),
    ],
  )
  progress(`report: ${paths.join(", ")}`)
} catch (error) {
  progress(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`)
  exitCode = 1
} finally {
  await Promise.all(backends.map((backend) => backend.stop()))
  await operator?.stop()
  await stack.stop()
  await rm(scratch, { recursive: true, force: true })
}
progress(`done in ${Math.round((performance.now() - benchStart) / 1000)} s`)
process.exit(exitCode)
