import { execFile } from "node:child_process"
import { fileURLToPath } from "node:url"
import { relayTcp } from "@fly-tunnel-operator/fly-emulator"
import { POOL_COUNT, TCP_MUX } from "@fly-tunnel-operator/frp"
import { startEchoBackend } from "@fly-tunnel-operator/local-stack"
import { type FrpSettings, startFrpOnLoopback } from "./frpAlone.ts"

const TCP_LOAD = fileURLToPath(new URL("./tcpLoad.ts", import.meta.url))

export interface LoadFigures {
  readonly roundTrip: { readonly count: number; readonly p50Ms: number; readonly p99Ms: number }
  readonly throughput: { readonly bytes: number; readonly seconds: number; readonly mbPerSecond: number }
  readonly connect: { readonly count: number; readonly p50Ms: number; readonly p99Ms: number }
}

export interface PathFigures extends LoadFigures {
  readonly path: string
  readonly kind: "direct" | "proxy" | "frp" | "tunnel"
  readonly frp?: FrpSettings
}

const tcpLoad = (host: string, port: number) =>
  new Promise<LoadFigures>((resolve, reject) =>
    execFile(process.execPath, [TCP_LOAD, host, String(port)], { timeout: 300_000 }, (error, stdout, stderr) =>
      error ? reject(new Error(`tcpLoad ${host}:${port}: ${stderr || error.message}`)) : resolve(JSON.parse(stdout)),
    ),
  )

/** Of two loads of the same path, the better figure of each (both passes ran under the same conditions). */
const best = (a: LoadFigures, b: LoadFigures): LoadFigures => ({
  roundTrip: a.roundTrip.p50Ms <= b.roundTrip.p50Ms ? a.roundTrip : b.roundTrip,
  throughput: a.throughput.mbPerSecond >= b.throughput.mbPerSecond ? a.throughput : b.throughput,
  connect: a.connect.p50Ms <= b.connect.p50Ms ? a.connect : b.connect,
})

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
 */
export const measureDataPath = async (options: {
  readonly tools: { readonly frps: string; readonly frpc: string }
  readonly tunnel: { readonly host: string; readonly port: number }
  readonly clusterIp: { readonly host: string; readonly port: number }
  readonly progress: (line: string) => void
}): Promise<ReadonlyArray<PathFigures>> => {
  const echo = await startEchoBackend({ host: "127.0.0.1", port: 0 })
  const relay = await relayTcp({ host: echo.host, port: echo.port })
  const frps: Array<{ settings: FrpSettings; host: string; port: number; stop: () => Promise<void> }> = []
  try {
    for (const settings of FRP_VARIANTS)
      frps.push({ settings, ...(await startFrpOnLoopback(options.tools, echo, settings)) })
    const targets: Array<Omit<PathFigures, keyof LoadFigures> & { host: string; port: number }> = [
      { path: "direct, loopback", kind: "direct", host: echo.host, port: echo.port },
      { path: "direct, ClusterIP (the tunnel's backend)", kind: "direct", ...options.clusterIp },
      { path: "Fly proxy alone (emulated, loopback)", kind: "proxy", host: relay.host, port: relay.port },
      ...frps.map((entry) => ({
        path: `frp alone (${frpLabel(entry.settings)})`,
        kind: "frp" as const,
        frp: entry.settings,
        host: entry.host,
        port: entry.port,
      })),
      {
        path: `tunnel: public IP → Fly proxy → frps → frpc → ClusterIP (${frpLabel({ tcpMux: TCP_MUX, poolCount: POOL_COUNT })})`,
        kind: "tunnel",
        frp: { tcpMux: TCP_MUX, poolCount: POOL_COUNT },
        ...options.tunnel,
      },
    ]
    const passes: Array<Array<LoadFigures>> = [[], []]
    for (const pass of [0, 1]) {
      const order = pass === 0 ? targets : [...targets].reverse()
      for (const target of order) {
        options.progress(`data path, pass ${pass + 1}: ${target.path}`)
        passes[pass]?.push(await tcpLoad(target.host, target.port))
      }
      if (pass === 1) passes[1]?.reverse()
    }
    return targets.map(({ host: _host, port: _port, ...target }, index) => {
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
