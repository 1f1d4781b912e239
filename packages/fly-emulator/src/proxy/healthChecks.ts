import * as http from "node:http"
import * as net from "node:net"
import { goDurationMs } from "../runtime/goDuration.ts"
import type { ProxyBackend, WatchedCheck } from "./proxyRoute.ts"

const defaultIntervalMs = 5_000
const defaultTimeoutMs = 2_000
/** Fly shows an HTTP check's response body as its output; long bodies are cut here. */
const maxOutput = 512

type Check = Readonly<Record<string, unknown>>

interface ProbeResult {
  readonly passing: boolean
  readonly output: string
}

/** One probe of a check against a machine: a TCP connect, or an HTTP request answered 2xx. */
const probe = (address: string, check: Check, internalPort: number, timeoutMs: number): Promise<ProbeResult> =>
  new Promise((resolve) => {
    const port = typeof check.port === "number" ? check.port : internalPort
    if (check.type === "http") {
      const request = http.request(
        {
          host: address,
          port,
          method: typeof check.method === "string" ? check.method.toUpperCase() : "GET",
          path: typeof check.path === "string" ? check.path : "/",
          timeout: timeoutMs,
        },
        (response) => {
          let body = ""
          response.setEncoding("utf8")
          response.on("data", (chunk: string) => {
            if (body.length < maxOutput) body += chunk
          })
          response.on("end", () => {
            const status = response.statusCode ?? 0
            resolve({
              passing: status >= 200 && status < 300,
              output: body.slice(0, maxOutput) || `HTTP ${status}`,
            })
          })
          response.on("error", (error) => resolve({ passing: false, output: error.message }))
        },
      )
      request.on("timeout", () => request.destroy(new Error(`timeout after ${timeoutMs}ms`)))
      request.on("error", (error) => resolve({ passing: false, output: error.message }))
      request.end()
      return
    }
    const socket = net.connect({ host: address, port, timeout: timeoutMs })
    socket.once("connect", () => {
      socket.destroy()
      resolve({ passing: true, output: "Success" })
    })
    socket.once("timeout", () => socket.destroy(new Error(`dial tcp ${address}:${port}: i/o timeout`)))
    socket.once("error", (error) =>
      resolve({ passing: false, output: `dial tcp ${address}:${port}: ${error.message}` }),
    )
    socket.once("close", () => resolve({ passing: false, output: `dial tcp ${address}:${port}: closed` }))
  })

interface Target {
  readonly address: string
  readonly internalPort: number
  readonly check: Check
}

interface Poller {
  passing: boolean
  output: string
  /** When `passing` last changed (RFC 3339, seconds). */
  since: string
  readonly timer: NodeJS.Timeout
}

const isoSeconds = () => new Date().toISOString().replace(/\.\d+Z$/, "Z")

/**
 * Polls every check the proxy needs at its interval (Fly's `interval`, `timeout`; `grace_period`
 * delays the first probe): those of routed backends, and those of every watched machine even when
 * no route uses them (a Machine's `checks` in the API report them). A check counts as failing
 * until its first probe passes; a backend with no checks is healthy as soon as it is routed.
 */
export const makeHealthChecks = () => {
  const pollers = new Map<string, Poller>()
  let routed: ReadonlyArray<Target> = []
  const watched = new Map<string, { readonly address: string; readonly checks: ReadonlyArray<WatchedCheck> }>()
  const keyOf = (target: Target) => `${target.address}|${target.internalPort}|${JSON.stringify(target.check)}`

  const startPoller = (target: Target): Poller => {
    const intervalMs = goDurationMs(target.check.interval) ?? defaultIntervalMs
    const timeoutMs = goDurationMs(target.check.timeout) ?? defaultTimeoutMs
    const run = async () => {
      const result = await probe(target.address, target.check, target.internalPort, timeoutMs)
      if (result.passing !== poller.passing) poller.since = isoSeconds()
      poller.passing = result.passing
      poller.output = result.output
    }
    const poller: Poller = {
      passing: false,
      output: "not checked yet",
      since: isoSeconds(),
      timer: setInterval(() => void run(), intervalMs),
    }
    setTimeout(() => void run(), goDurationMs(target.check.grace_period) ?? 0).unref()
    poller.timer.unref()
    return poller
  }

  /** Keeps exactly the pollers the routed backends and the watched machines need. */
  const refresh = () => {
    const watchedTargets = [...watched.values()].flatMap(({ address, checks }) =>
      checks.map(({ internalPort, check }) => ({ address, internalPort, check })),
    )
    const wanted = new Map([...routed, ...watchedTargets].map((target) => [keyOf(target), target] as const))
    for (const [key, poller] of pollers) {
      if (wanted.has(key)) continue
      clearInterval(poller.timer)
      pollers.delete(key)
    }
    for (const [key, target] of wanted) {
      if (!pollers.has(key)) pollers.set(key, startPoller(target))
    }
  }

  return {
    /** The checks of these (routed) backends. */
    watch: (backends: ReadonlyArray<ProxyBackend>) => {
      routed = backends.flatMap((backend) =>
        backend.checks.map((check) => ({ address: backend.address, internalPort: backend.internalPort, check })),
      )
      refresh()
    },
    /** A running machine's checks, probed at its primary address until `unwatchMachine`. */
    watchMachine: (machineId: string, address: string, checks: ReadonlyArray<WatchedCheck>) => {
      watched.set(machineId, { address, checks })
      refresh()
    },
    unwatchMachine: (machineId: string) => {
      if (watched.delete(machineId)) refresh()
    },
    isHealthy: (backend: ProxyBackend): boolean =>
      backend.checks.every(
        (check) =>
          pollers.get(keyOf({ address: backend.address, internalPort: backend.internalPort, check }))?.passing === true,
      ),
    /** What the probes of a watched machine's checks saw, by check name. */
    observations: (machineId: string) => {
      const machine = watched.get(machineId)
      const seen = new Map<string, { passing: boolean; output: string; since: string }>()
      for (const { name, internalPort, check } of machine?.checks ?? []) {
        const poller = pollers.get(keyOf({ address: machine?.address ?? "", internalPort, check }))
        if (poller) seen.set(name, { passing: poller.passing, output: poller.output, since: poller.since })
      }
      return seen
    },
    close: () => {
      for (const poller of pollers.values()) clearInterval(poller.timer)
      pollers.clear()
    },
  }
}
