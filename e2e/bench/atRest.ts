import type { LocalStack, OperatorProcess } from "@fly-tunnel-operator/local-stack"
import { CoreV1Api, KubeConfig, PatchStrategy, setHeaderOptions } from "@kubernetes/client-node"
import { type MetricsSample, sampleMetrics, writesBetween } from "./operatorMetrics.ts"
import { residentMiB } from "./processMemory.ts"

export interface RestFigures {
  readonly minutes: number
  readonly resyncSeconds: number
  readonly tunnels: number
  /** Tunnel reconciles during the window (each tunnel once per resync). */
  readonly tunnelReconciles: number
  readonly flyMutations: Readonly<Record<string, number>>
  readonly flyReads: Readonly<Record<string, number>>
  /** Fly reads per tunnel reconcile: what a drift check costs. */
  readonly readsPerTunnelPerResync: number
  readonly kubeWrites: Readonly<Record<string, number>>
  readonly otherServices: number
  readonly otherServiceUpdates: number
  readonly serviceReconciles: number
  /** Requests on Services other than the informer's watch (GET, PATCH, …). */
  readonly serviceRequests: number
  readonly rss: ReadonlyArray<{ readonly atSeconds: number; readonly rssMiB: number }>
}

export interface RestartFigures {
  readonly tunnels: number
  readonly tunnelReconciles: number
  readonly flyMutations: Readonly<Record<string, number>>
  readonly flyReads: Readonly<Record<string, number>>
  readonly readsPerTunnel: number
  readonly kubeWrites: Readonly<Record<string, number>>
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const mergePatch = setHeaderOptions("Content-Type", PatchStrategy.MergePatch)

/** Calls by action; mutating ones also by the status Fly answered (a 422 changed nothing, a 201 did). */
const byAction = (calls: ReadonlyArray<{ action: string; method: string; status: number }>, mutating: boolean) => {
  const counts: Record<string, number> = {}
  for (const call of calls) {
    if ((call.method !== "GET") !== mutating) continue
    const key = mutating ? `${call.action} (${call.status})` : call.action
    counts[key] = (counts[key] ?? 0) + 1
  }
  return counts
}
/** A tunnel's own reads: those on its App. Org-wide ones (the orphan sweep's listApps, listRegions) are not a tunnel's. */
const ofApps = <A extends { readonly app?: string | undefined }>(calls: ReadonlyArray<A>) =>
  calls.filter((call) => call.app !== undefined)
const total = (counts: Readonly<Record<string, number>>) => Object.values(counts).reduce((sum, value) => sum + value, 0)
const servicesRequests = (sample: MetricsSample) =>
  sample.kubeRequests("services") - sample.kubeRequests("services", "WATCH")

/**
 * The converged operator left alone for `minutes` while `others` Services of another class change all along (one
 * annotation on each, round after round): what it calls on Fly and on the API server, what it reconciles, its RSS.
 */
export const measureRest = async (options: {
  readonly stack: LocalStack
  readonly kubectl: (args: ReadonlyArray<string>, input?: string) => Promise<string>
  readonly operator: OperatorProcess
  readonly namespace: string
  readonly others: number
  readonly minutes: number
  readonly resyncSeconds: number
  readonly tunnels: number
  readonly progress: (line: string) => void
}): Promise<RestFigures> => {
  const config = new KubeConfig()
  config.loadFromFile(options.stack.controlPlane.kubeconfigPath)
  const core = config.makeApiClient(CoreV1Api)
  const before = await sampleMetrics(options.operator.metricsUrl)
  const callsBefore = (await options.stack.emulator.state()).calls.length
  const startedAt = Date.now()
  const items = Array.from({ length: options.others }, (_, index) => ({
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: `other-${index}`, namespace: options.namespace },
    spec: {
      type: "LoadBalancer",
      loadBalancerClass: "example.com/other-lb",
      ports: [{ name: "http", port: 80, protocol: "TCP" }],
    },
  }))
  await options.kubectl(["apply", "-f", "-"], JSON.stringify({ apiVersion: "v1", kind: "List", items }))
  const rss: Array<{ atSeconds: number; rssMiB: number }> = []
  let updates = 0
  let round = 0
  let lastSample = 0
  while (Date.now() - startedAt < options.minutes * 60_000) {
    const roundStart = Date.now()
    round++
    for (let from = 0; from < options.others; from += 10) {
      await Promise.all(
        items.slice(from, from + 10).map((item) =>
          core.patchNamespacedService(
            {
              name: item.metadata.name,
              namespace: options.namespace,
              body: { metadata: { annotations: { "bench.example.com/round": String(round) } } },
            },
            mergePatch,
          ),
        ),
      )
      updates += Math.min(10, options.others - from)
    }
    if (Date.now() - lastSample >= 10_000) {
      lastSample = Date.now()
      rss.push({
        atSeconds: Math.round((Date.now() - startedAt) / 1000),
        rssMiB: await residentMiB(options.operator.pid),
      })
    }
    if (round % 12 === 0)
      options.progress(
        `at rest: ${Math.round((Date.now() - startedAt) / 1000)} s, ${updates} updates of other Services`,
      )
    await sleep(Math.max(0, 5_000 - (Date.now() - roundStart)))
  }
  const after = await sampleMetrics(options.operator.metricsUrl)
  const calls = (await options.stack.emulator.state()).calls.slice(callsBefore)
  const reads = byAction(calls, false)
  const tunnelReconciles = after.reconciles("tunnel") - before.reconciles("tunnel")
  return {
    minutes: options.minutes,
    resyncSeconds: options.resyncSeconds,
    tunnels: options.tunnels,
    tunnelReconciles,
    flyMutations: byAction(calls, true),
    flyReads: reads,
    readsPerTunnelPerResync: tunnelReconciles === 0 ? 0 : total(byAction(ofApps(calls), false)) / tunnelReconciles,
    kubeWrites: writesBetween(before, after),
    otherServices: options.others,
    otherServiceUpdates: updates,
    serviceReconciles: after.reconciles("service") - before.reconciles("service"),
    serviceRequests: servicesRequests(after) - servicesRequests(before),
    rss,
  }
}

/** The operator stopped and started again: every tunnel is reconciled once; what that costs on Fly and in writes. */
export const measureRestart = async (options: {
  readonly stack: LocalStack
  readonly start: () => Promise<OperatorProcess>
  readonly stop: () => Promise<void>
  readonly tunnels: number
  readonly progress: (line: string) => void
}): Promise<{ figures: RestartFigures; operator: OperatorProcess }> => {
  await options.stop()
  const callsBefore = (await options.stack.emulator.state()).calls.length
  const operator = await options.start()
  const deadline = Date.now() + 300_000
  let sample: MetricsSample | undefined
  while (Date.now() < deadline) {
    await sleep(1_000)
    sample = await sampleMetrics(operator.metricsUrl).catch(() => undefined)
    if (sample !== undefined && sample.reconciles("tunnel") >= options.tunnels) break
  }
  if (sample === undefined || sample.reconciles("tunnel") < options.tunnels)
    throw new Error(`restart: the tunnels were not all reconciled in time`)
  await sleep(10_000)
  const after = await sampleMetrics(operator.metricsUrl)
  const calls = (await options.stack.emulator.state()).calls.slice(callsBefore)
  const reads = byAction(calls, false)
  options.progress(`restart: ${after.reconciles("tunnel")} tunnel reconciles`)
  return {
    figures: {
      tunnels: options.tunnels,
      tunnelReconciles: after.reconciles("tunnel"),
      flyMutations: byAction(calls, true),
      flyReads: reads,
      readsPerTunnel: total(byAction(ofApps(calls), false)) / options.tunnels,
      kubeWrites: after.kubeWrites(),
    },
    operator,
  }
}
