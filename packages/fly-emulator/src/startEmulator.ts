import { randomBytes } from "node:crypto"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import type { AcmeFault } from "./acmeFaults.ts"
import type { Action } from "./actions.ts"
import type { CheckMark } from "./checkMarks.ts"
import { type EdgeCa, makeEdgeCa } from "./edge/edgeCa.ts"
import { type DnsUpdate, Emulator, type EmulatorState, type Interception } from "./emulator.ts"
import type { Fault } from "./faults.ts"
import type { Latency, LatencySettings } from "./latencyModel.ts"
import { inMemoryMachineHost, type MachineHost } from "./machineHost.ts"
import type { LifecycleTimings } from "./machineLifecycle.ts"
import type { RateLimitRule } from "./rateLimiter.ts"
import type { HostStatus } from "./store.ts"

export interface EmulatorOptions {
  /** 0 (default) picks a free port. */
  readonly port?: number
  /** Default 127.0.0.1. */
  readonly host?: string
  /** The API token clients must present; random when absent. */
  readonly token?: string
  /** Runs machines whose image names frps as real processes of this binary. */
  readonly frpsPath?: string
  readonly network?: "auto" | "namespace" | "loopback"
  readonly latency?: LatencySettings
  /** Fly's rate limits enforced as 429 (default true). */
  readonly rateLimits?: boolean
  /** Region codes the emulator knows (default: Fly's 18). */
  readonly regions?: ReadonlyArray<string>
  /** Transient-state and destroyed-visibility durations. */
  readonly timings?: Partial<LifecycleTimings>
  /** Right after create, wait answers 404 this long (the Machines API's wait); default 0. */
  readonly waitNotFoundAfterCreateMs?: number
  /** Replaces the machine host (runtime + proxy + network) altogether. */
  readonly machineHost?: MachineHost
}

export interface RunningEmulator {
  /** e.g. http://127.0.0.1:4280 — clients append /v1/… */
  readonly baseUrl: string
  readonly token: string
  state(): Promise<EmulatorState>
  injectFault(fault: Fault): Promise<void>
  clearFaults(): Promise<void>
  setLatency(latency: Partial<Record<Action, Latency | null>>): Promise<void>
  setRateLimits(update: { enabled?: boolean; rules?: Partial<Record<Action, RateLimitRule>> }): Promise<void>
  /** Puts a Machine's host into `status`; "unknown"/"unreachable" hide its config from API answers. */
  setHostStatus(machineId: string, status: HostStatus): Promise<void>
  /**
   * Declares checks passing or failing (in-memory host only: it runs no processes, so nothing is
   * probed and checks stay critical until marked). Rejects when the machine runtime probes checks.
   */
  markChecks(mark: CheckMark): Promise<void>
  clearCheckMarks(): Promise<void>
  /**
   * A network fault (not Fly behaviour): a man in the middle terminates TLS on the App's public TCP `port` with its
   * own certificate and relays to the Machine over TLS, until `clearInterceptions`. Machine runtime only.
   */
  interceptTls(target: Interception): Promise<void>
  clearInterceptions(): Promise<void>
  /** Tells the emulator what the world's DNS says of a hostname; Fly then validates its pending certificates. */
  setDns(update: DnsUpdate): Promise<void>
  /** Arms a Let's Encrypt fault (validation error or rate limit) for a hostname, until cleared. */
  injectAcmeFault(fault: AcmeFault): Promise<void>
  clearAcmeFaults(): Promise<void>
  /** The CA certificate (PEM) of the emulated edge's TLS; trust it to verify `tls` ports. */
  readonly caCertificate: string
  reset(): Promise<void>
  /** Where to connect from this host to reach an App's public address and port. */
  publicAddress(ip: string, port: number): { host: string; port: number }
  close(): Promise<void>
}

const machineHostFor = async (options: EmulatorOptions, edgeCa: EdgeCa): Promise<MachineHost> => {
  if (options.machineHost) return options.machineHost
  if (options.frpsPath === undefined) return inMemoryMachineHost()
  const { runtimeMachineHost } = await import("./runtimeMachineHost.ts")
  return runtimeMachineHost({ frpsPath: options.frpsPath, network: options.network ?? "auto", edgeCa })
}

/** Starts the emulator's HTTP server and, with `frpsPath`, its machine runtime and proxy. */
export const startEmulator = async (options: EmulatorOptions = {}): Promise<RunningEmulator> => {
  const token = options.token ?? `fm2_${randomBytes(24).toString("base64url")}`
  const edgeCa = await makeEdgeCa()
  const machineHost = await machineHostFor(options, edgeCa)
  const emulator = new Emulator(
    {
      token,
      caCertificate: edgeCa.certificatePem,
      ...(options.regions ? { regions: options.regions } : {}),
      ...(options.latency ? { latency: options.latency } : {}),
      ...(options.rateLimits !== undefined ? { rateLimits: options.rateLimits } : {}),
      ...(options.timings ? { timings: options.timings } : {}),
      ...(options.waitNotFoundAfterCreateMs !== undefined
        ? { waitNotFoundAfterCreateMs: options.waitNotFoundAfterCreateMs }
        : {}),
    },
    machineHost,
  )
  const server = createServer(emulator.handle)
  const host = options.host ?? "127.0.0.1"
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject)
      server.listen(options.port ?? 0, host, () => resolve())
    })
  } catch (error) {
    await machineHost.close()
    throw error
  }
  const { port } = server.address() as AddressInfo
  const urlHost = host.includes(":") ? `[${host}]` : host
  let closing: Promise<void> | undefined
  return {
    baseUrl: `http://${urlHost}:${port}`,
    token,
    state: async () => emulator.state(),
    injectFault: async (fault) => emulator.faults.add(fault),
    clearFaults: async () => emulator.faults.clear(),
    setLatency: async (latency) => emulator.setLatency(latency),
    setRateLimits: async (update) => emulator.setRateLimits(update),
    setHostStatus: async (machineId, status) => {
      if (!emulator.setHostStatus(machineId, status)) throw new Error(`no machine ${machineId}`)
    },
    markChecks: async (mark) => {
      const refusal = emulator.markChecks(mark)
      if (refusal) throw new Error(refusal.refused)
    },
    clearCheckMarks: async () => emulator.clearCheckMarks(),
    interceptTls: async (target) => emulator.interceptTls(target),
    clearInterceptions: async () => emulator.clearInterceptions(),
    setDns: async (update) => emulator.setDns(update),
    injectAcmeFault: async (fault) => emulator.injectAcmeFault(fault),
    clearAcmeFaults: async () => emulator.clearAcmeFaults(),
    caCertificate: edgeCa.certificatePem,
    reset: () => emulator.reset(),
    publicAddress: (ip, publicPort) => machineHost.publicAddress(ip, publicPort),
    close: () => {
      closing ??= (async () => {
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()))
        server.closeAllConnections()
        await stopped
        await emulator.shutdown()
        await machineHost.close()
      })()
      return closing
    },
  }
}
