import * as http from "node:http"
import * as net from "node:net"
import { goDurationMs } from "../runtime/goDuration.ts"
import type { ProxyBackend } from "./ProxyRoute.ts"

const defaultIntervalMs = 5_000
const defaultTimeoutMs = 2_000

type Check = Readonly<Record<string, unknown>>

/** One probe of a check against a machine: a TCP connect, or an HTTP request answered 2xx. */
const probe = (address: string, check: Check, internalPort: number, timeoutMs: number): Promise<boolean> =>
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
          response.resume()
          resolve((response.statusCode ?? 0) >= 200 && (response.statusCode ?? 0) < 300)
        },
      )
      request.on("timeout", () => request.destroy())
      request.on("error", () => resolve(false))
      request.end()
      return
    }
    const socket = net.connect({ host: address, port, timeout: timeoutMs })
    socket.once("connect", () => {
      socket.destroy()
      resolve(true)
    })
    socket.once("timeout", () => socket.destroy())
    socket.once("error", () => resolve(false))
    socket.once("close", () => resolve(false))
  })

interface Poller {
  passing: boolean
  readonly timer: NodeJS.Timeout
}

/**
 * Polls every check of every backend at its interval (Fly's `interval`, `timeout`; `grace_period`
 * delays the first probe). A check counts as failing until its first probe passes; a backend with
 * no checks is healthy as soon as it is routed.
 */
export const makeHealthChecks = () => {
  const pollers = new Map<string, Poller>()
  const keyOf = (backend: ProxyBackend, check: Check) =>
    `${backend.address}|${backend.internalPort}|${JSON.stringify(check)}`

  const startPoller = (backend: ProxyBackend, check: Check): Poller => {
    const intervalMs = goDurationMs(check.interval) ?? defaultIntervalMs
    const timeoutMs = goDurationMs(check.timeout) ?? defaultTimeoutMs
    const run = async () => {
      poller.passing = await probe(backend.address, check, backend.internalPort, timeoutMs)
    }
    const poller: Poller = {
      passing: false,
      timer: setInterval(() => void run(), intervalMs),
    }
    setTimeout(() => void run(), goDurationMs(check.grace_period) ?? 0).unref()
    poller.timer.unref()
    return poller
  }

  return {
    /** Keeps exactly the pollers these backends need. */
    watch: (backends: ReadonlyArray<ProxyBackend>) => {
      const wanted = new Map(
        backends.flatMap((backend) =>
          backend.checks.map((check) => [keyOf(backend, check), { backend, check }] as const),
        ),
      )
      for (const [key, poller] of pollers) {
        if (wanted.has(key)) continue
        clearInterval(poller.timer)
        pollers.delete(key)
      }
      for (const [key, { backend, check }] of wanted) {
        if (!pollers.has(key)) pollers.set(key, startPoller(backend, check))
      }
    },
    isHealthy: (backend: ProxyBackend): boolean =>
      backend.checks.every((check) => pollers.get(keyOf(backend, check))?.passing === true),
    close: () => {
      for (const poller of pollers.values()) clearInterval(poller.timer)
      pollers.clear()
    },
  }
}

export type HealthChecks = ReturnType<typeof makeHealthChecks>
