import { spawn } from "node:child_process"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"
import { relayTcp } from "@fly-tunnel-operator/fly-emulator"
import { POOL_COUNT, TCP_MUX } from "@fly-tunnel-operator/frp"
import { startEchoBackend } from "@fly-tunnel-operator/local-stack"
import { type FrpSettings, startFrpOnLoopback } from "./frpAlone.ts"
import {
  busiestOthers,
  type CpuSnapshot,
  cpuSnapshot,
  descendantsNamed,
  machineBusySeconds,
  mainThreadSeconds,
  softirqThreads,
  threadSeconds,
  usedSeconds,
} from "./processCpu.ts"

const TCP_LOAD = fileURLToPath(new URL("./tcpLoad.ts", import.meta.url))

export interface LoadFigures {
  readonly roundTrip: { readonly count: number; readonly p50Ms: number; readonly p99Ms: number }
  readonly throughput: { readonly bytes: number; readonly seconds: number; readonly mbPerSecond: number }
  readonly connect: { readonly count: number; readonly p50Ms: number; readonly p99Ms: number }
}

/** One process (or kind of process) on a path and the CPU it used during the bulk transfer. */
export interface ProcessCpu {
  readonly role: string
  /** User + system CPU seconds while the bulk transfer ran, summed over the role's processes. */
  readonly seconds: number
  /** The CPU it used in the second before the transfer, in cores: work of its own, not the path's. */
  readonly backgroundCores: number
  /**
   * Its work runs on one thread (a Node event loop), so that thread alone can never go past one core: its CPU
   * seconds during the transfer and its background, as for the whole process.
   */
  readonly mainThread?: { readonly seconds: number; readonly backgroundCores: number }
  /** For a one-thread process, where its CPU went during the transfer, by thread name (seconds). */
  readonly threads?: Readonly<Record<string, number>>
}

export interface PathCpu {
  readonly processes: ReadonlyArray<ProcessCpu>
  /** The whole machine's busy CPU seconds over the same interval: the path's, and everything else running. */
  readonly machineBusySeconds: number
  /** The processes off the path that used the most CPU meanwhile. */
  readonly others: ReadonlyArray<{ readonly name: string; readonly seconds: number }>
}

export interface PathFigures extends LoadFigures {
  readonly path: string
  readonly kind: "direct" | "proxy" | "frp" | "tunnel"
  readonly frp?: FrpSettings
  /** CPU during the throughput figure's bulk transfer (of the pass whose throughput is shown). */
  readonly cpu: PathCpu
}

/** Who carries a path: each role's processes, found when the bulk transfer starts. */
type Carriers = ReadonlyArray<{
  readonly role: string
  readonly oneThread: boolean
  readonly pids: (snapshot: CpuSnapshot) => Promise<ReadonlyArray<number>> | ReadonlyArray<number>
}>

const BACKGROUND_MS = 1_000
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Every process's CPU seconds so far, and those of each one-thread carrier's main thread. */
interface Reading {
  readonly snapshot: CpuSnapshot
  readonly mainThreads: ReadonlyArray<number>
  readonly threads: ReadonlyArray<Readonly<Record<string, number>>>
}

const read = async (
  pids: ReadonlyArray<ReadonlyArray<number>>,
  oneThread: ReadonlyArray<boolean>,
): Promise<Reading> => ({
  snapshot: await cpuSnapshot(),
  mainThreads: await Promise.all(
    pids.map((group, index) => (oneThread[index] === true ? mainThreadSeconds(group[0] ?? -1) : 0)),
  ),
  threads: await Promise.all(
    pids.map((group, index) => (oneThread[index] === true ? threadSeconds(group[0] ?? -1) : {})),
  ),
})

const tcpLoad = (host: string, port: number, carriers: Carriers) =>
  new Promise<LoadFigures & { cpu: PathCpu }>((resolve, reject) => {
    const child = spawn(process.execPath, [TCP_LOAD, host, String(port)], { stdio: ["pipe", "pipe", "pipe"] })
    const timer = setTimeout(() => child.kill("SIGKILL"), 300_000)
    let stderr = ""
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk))
    let last = ""
    const all: Carriers = [
      { role: "load generator (tcpLoad.ts, Node)", oneThread: true, pids: () => [child.pid ?? -1] },
      ...carriers,
      {
        role: "kernel: ksoftirqd (network work deferred from the sockets' processes)",
        oneThread: false,
        pids: softirqThreads,
      },
    ]
    const oneThread = all.map((carrier) => carrier.oneThread)
    let start: { idle: Reading; before: Reading; pids: ReadonlyArray<ReadonlyArray<number>> } | undefined
    let cpu: PathCpu | undefined
    const lines = createInterface({ input: child.stdout })
    const fail = (error: unknown) => {
      child.kill("SIGKILL")
      reject(error instanceof Error ? error : new Error(String(error)))
    }
    const measured = (end: Reading): PathCpu => {
      if (start === undefined) throw new Error("bulk done before bulk")
      const { idle, before, pids } = start
      const used = (from: Reading, to: Reading, index: number) =>
        (pids[index] ?? []).reduce((total, pid) => total + usedSeconds(from.snapshot, to.snapshot, pid), 0)
      const main = (from: Reading, to: Reading, index: number) =>
        (to.mainThreads[index] ?? 0) - (from.mainThreads[index] ?? 0)
      const perSecond = 1000 / BACKGROUND_MS
      return {
        processes: all.map((carrier, index) => ({
          role: carrier.role,
          seconds: used(before, end, index),
          backgroundCores: used(idle, before, index) * perSecond,
          ...(carrier.oneThread
            ? {
                mainThread: {
                  seconds: main(before, end, index),
                  backgroundCores: main(idle, before, index) * perSecond,
                },
                threads: Object.fromEntries(
                  Object.entries(end.threads[index] ?? {})
                    .map(([name, seconds]): [string, number] => [name, seconds - (before.threads[index]?.[name] ?? 0)])
                    .filter(([, seconds]) => seconds > 0),
                ),
              }
            : {}),
        })),
        machineBusySeconds: machineBusySeconds(before.snapshot, end.snapshot),
        others: busiestOthers(before.snapshot, end.snapshot, new Set(pids.flat()), 3),
      }
    }
    lines.on("line", (line) => {
      last = line
      if (line === "bulk") {
        ;(async () => {
          const found = await cpuSnapshot()
          const pids = await Promise.all(all.map(async (carrier) => [...(await carrier.pids(found))]))
          // A second of the carriers at rest first: what they spend anyway is not the path's.
          const idle = await read(pids, oneThread)
          await sleep(BACKGROUND_MS)
          start = { idle, before: await read(pids, oneThread), pids }
          child.stdin.write("go\n")
        })().catch(fail)
      } else if (line === "bulk done") {
        read(start?.pids ?? [], oneThread)
          .then((end) => {
            cpu = measured(end)
            child.stdin.write("go\n")
          })
          .catch(fail)
      }
    })
    child.once("error", fail)
    child.once("exit", (code) => {
      clearTimeout(timer)
      if (code !== 0 || cpu === undefined) reject(new Error(`tcpLoad ${host}:${port} exited ${code}: ${stderr}`))
      else resolve({ ...(JSON.parse(last) as LoadFigures), cpu })
    })
  })

/**
 * Of two loads of the same path, the better figure of each (both passes ran under the same conditions); the CPU
 * figures go with the throughput they were measured with.
 */
const best = (a: LoadFigures & { cpu: PathCpu }, b: LoadFigures & { cpu: PathCpu }) => {
  const bulk = a.throughput.mbPerSecond >= b.throughput.mbPerSecond ? a : b
  return {
    roundTrip: a.roundTrip.p50Ms <= b.roundTrip.p50Ms ? a.roundTrip : b.roundTrip,
    throughput: bulk.throughput,
    connect: a.connect.p50Ms <= b.connect.p50Ms ? a.connect : b.connect,
    cpu: bulk.cpu,
  }
}

export const FRP_VARIANTS: ReadonlyArray<FrpSettings> = [
  { tcpMux: true, poolCount: 1 },
  { tcpMux: false, poolCount: 1 },
  { tcpMux: true, poolCount: 5 },
  { tcpMux: false, poolCount: 5 },
]

export const frpLabel = (settings: FrpSettings) =>
  `tcpMux ${settings.tcpMux ? "on" : "off"}, poolCount ${settings.poolCount}`

/**
 * Where the time of the data path goes, every path against an echo server and measured twice (passes interleaved):
 * direct on loopback and to the tunnel's ClusterIP backend; the emulated Fly proxy alone (loopback relay to a
 * loopback echo); frp alone (frpc → frps on loopback, TLS forced) in each transport variant; and the tunnel itself
 * (public IP → Fly proxy → frps in its Machine → frpc → ClusterIP), which runs the operator's defaults.
 * During each bulk transfer it reads the CPU time of every process that carries the path: the load generator, the
 * echo server, the emulator's process for the Fly proxy (it runs in this process, as does the relay), frps and frpc.
 * The ClusterIP hop has no process of its own: the service network is a route over a veth pair into a network
 * namespace (no kube-proxy), so its cost is kernel time charged to the processes whose sockets send into it.
 */
export const measureDataPath = async (options: {
  readonly tools: { readonly frps: string; readonly frpc: string }
  readonly tunnel: { readonly host: string; readonly port: number }
  /** The tunnel's backend at its ClusterIP, and the pid of the echo server serving it. */
  readonly clusterIp: { readonly host: string; readonly port: number; readonly pid: number }
  readonly progress: (line: string) => void
}): Promise<ReadonlyArray<PathFigures>> => {
  const echo = await startEchoBackend({ host: "127.0.0.1", port: 0 })
  const relay = await relayTcp({ host: echo.host, port: echo.port })
  const frps: Array<{
    settings: FrpSettings
    host: string
    port: number
    pids: { frps: number; frpc: number }
    stop: () => Promise<void>
  }> = []
  const fixed = (role: string, pid: number, oneThread: boolean) => ({ role, oneThread, pids: async () => [pid] })
  const loopbackEcho = fixed("echo server (Node)", echo.pid, true)
  const clusterIpEcho = fixed("echo server at the ClusterIP (Node)", options.clusterIp.pid, true)
  const flyProxy = fixed("emulated Fly proxy (the emulator's Node process)", process.pid, true)
  /** The stack's frps (in the Machines) and frpc (the node agent's Pods): this process's descendants, bar frp alone's. */
  const stackFrp = (name: "frps" | "frpc") => ({
    role: `${name} (the tunnel's)`,
    oneThread: false,
    pids: async (snapshot: CpuSnapshot) => {
      const alone = new Set(frps.map((entry) => entry.pids[name]))
      return (await descendantsNamed(snapshot, process.pid, name)).filter((pid) => !alone.has(pid))
    },
  })
  try {
    for (const settings of FRP_VARIANTS)
      frps.push({ settings, ...(await startFrpOnLoopback(options.tools, echo, settings)) })
    const targets: Array<
      Omit<PathFigures, keyof LoadFigures | "cpu"> & { host: string; port: number; carriers: Carriers }
    > = [
      { path: "direct, loopback", kind: "direct", host: echo.host, port: echo.port, carriers: [loopbackEcho] },
      {
        path: "direct, ClusterIP (the tunnel's backend)",
        kind: "direct",
        host: options.clusterIp.host,
        port: options.clusterIp.port,
        carriers: [clusterIpEcho],
      },
      {
        path: "Fly proxy alone (emulated, loopback)",
        kind: "proxy",
        host: relay.host,
        port: relay.port,
        carriers: [{ ...flyProxy, role: "emulated Fly proxy's relay (this Node process)" }, loopbackEcho],
      },
      ...frps.map((entry) => ({
        path: `frp alone (${frpLabel(entry.settings)})`,
        kind: "frp" as const,
        frp: entry.settings,
        host: entry.host,
        port: entry.port,
        carriers: [fixed("frps", entry.pids.frps, false), fixed("frpc", entry.pids.frpc, false), loopbackEcho],
      })),
      {
        path: `tunnel: public IP → Fly proxy → frps → frpc → ClusterIP (${frpLabel({ tcpMux: TCP_MUX, poolCount: POOL_COUNT })})`,
        kind: "tunnel",
        frp: { tcpMux: TCP_MUX, poolCount: POOL_COUNT },
        ...options.tunnel,
        carriers: [flyProxy, stackFrp("frps"), stackFrp("frpc"), clusterIpEcho],
      },
    ]
    const passes: Array<Array<LoadFigures & { cpu: PathCpu }>> = [[], []]
    for (const pass of [0, 1]) {
      const order = pass === 0 ? targets : [...targets].reverse()
      for (const target of order) {
        options.progress(`data path, pass ${pass + 1}: ${target.path}`)
        passes[pass]?.push(await tcpLoad(target.host, target.port, target.carriers))
      }
      if (pass === 1) passes[1]?.reverse()
    }
    return targets.map(({ host: _host, port: _port, carriers: _carriers, ...target }, index) => {
      const [a, b] = [passes[0]?.[index], passes[1]?.[index]]
      if (a === undefined || b === undefined) throw new Error(`no load figures for ${target.path}`)
      return { ...target, ...best(a, b) }
    })
  } finally {
    for (const entry of frps) await entry.stop()
    relay.close()
    await echo.stop()
  }
}
