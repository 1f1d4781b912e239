import type { LocalStack } from "@fly-tunnel-operator/local-stack"
import { CoreV1Api, KubeConfig } from "@kubernetes/client-node"
import { loadBalancerService } from "../local/kubectl.ts"
import { residentMiB } from "./processMemory.ts"

export interface ScaleFigures {
  readonly services: number
  /** Apply → the last Service's EXTERNAL-IP. */
  readonly totalMs: number
  /** When each Service got its EXTERNAL-IP (ms after the apply), sorted. */
  readonly readyAtMs: ReadonlyArray<number>
  readonly http429: number
  readonly createApps: number
  /** Operator RSS against Services with an address, sampled during the run. */
  readonly rss: ReadonlyArray<{ readonly tunnels: number; readonly rssMiB: number }>
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** `count` LoadBalancer Services of our class applied at once; waits until every one has its EXTERNAL-IP. */
export const measureScale = async (options: {
  readonly stack: LocalStack
  readonly kubectl: (args: ReadonlyArray<string>, input?: string) => Promise<string>
  readonly namespace: string
  readonly count: number
  readonly operatorPid: () => number
  readonly progress: (line: string) => void
  readonly timeoutMs: number
}): Promise<ScaleFigures> => {
  const config = new KubeConfig()
  config.loadFromFile(options.stack.controlPlane.kubeconfigPath)
  const core = config.makeApiClient(CoreV1Api)
  const callsBefore = (await options.stack.emulator.state()).calls.length
  const items = Array.from({ length: options.count }, (_, index) =>
    loadBalancerService(options.namespace, `scale-${index}`, 8080),
  )
  const appliedAt = performance.now()
  await options.kubectl(["apply", "-f", "-"], JSON.stringify({ apiVersion: "v1", kind: "List", items }))
  const readyAt = new Map<string, number>()
  const rss: Array<{ tunnels: number; rssMiB: number }> = []
  const deadline = Date.now() + options.timeoutMs
  let lastReport = 0
  while (readyAt.size < options.count) {
    if (Date.now() > deadline)
      throw new Error(`scale: ${readyAt.size} of ${options.count} Services had an address in time`)
    const listed = await core.listNamespacedService({ namespace: options.namespace })
    const now = Math.round(performance.now() - appliedAt)
    for (const service of listed.items) {
      const name = service.metadata?.name ?? ""
      if (!readyAt.has(name) && (service.status?.loadBalancer?.ingress ?? []).some((ingress) => ingress.ip))
        readyAt.set(name, now)
    }
    rss.push({ tunnels: readyAt.size, rssMiB: await residentMiB(options.operatorPid()) })
    if (now - lastReport > 15_000) {
      lastReport = now
      options.progress(
        `scale: ${readyAt.size} of ${options.count} with an EXTERNAL-IP after ${Math.round(now / 1000)} s`,
      )
    }
    await sleep(500)
  }
  const calls = (await options.stack.emulator.state()).calls.slice(callsBefore)
  const times = [...readyAt.values()].sort((a, b) => a - b)
  return {
    services: options.count,
    totalMs: times.at(-1) ?? 0,
    readyAtMs: times,
    http429: calls.filter((call) => call.status === 429).length,
    createApps: calls.filter((call) => call.action === "createApp" && call.status === 201).length,
    rss,
  }
}
