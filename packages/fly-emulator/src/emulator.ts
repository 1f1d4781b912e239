import type { IncomingMessage, ServerResponse } from "node:http"
import { setTimeout as sleep } from "node:timers/promises"
import { Result, Schema } from "effect"
import { validateHostname } from "./acme.ts"
import { AcmeFault, AcmeFaults } from "./acmeFaults.ts"
import type { Action } from "./actions.ts"
import { actions } from "./actions.ts"
import type { ApiContext } from "./apiContext.ts"
import { appJson } from "./appsApi.ts"
import { isAuthorized } from "./authorization.ts"
import { type Call, CallLog } from "./callLog.ts"
import { certificateDetail } from "./certificatesApi.ts"
import { CheckMark, CheckMarks } from "./checkMarks.ts"
import { Fault, Faults } from "./faults.ts"
import { requestId } from "./identifiers.ts"
import { type Latency, LatencyModel, type LatencySettings } from "./latencyModel.ts"
import { checkStatuses } from "./machineChecks.ts"
import type { MachineHost, ProxyStats } from "./machineHost.ts"
import { defaultTimings, type LifecycleTimings, MachineLifecycle, type Refusal } from "./machineLifecycle.ts"
import { type MachineJson, machineJson } from "./machinesApi.ts"
import { proxyRoutes } from "./proxyRoutes.ts"
import { RateLimiter, type RateLimitRule } from "./rateLimiter.ts"
import { defaultRegionCodes, nearestRegion } from "./regions.ts"
import { failure, isSuccess, type Reply } from "./reply.ts"
import { matchRoute } from "./routes.ts"
import { secretJson } from "./secretsApi.ts"
import { type HostStatus, hostStatuses, Store } from "./store.ts"

export interface EmulatorSettings {
  readonly token: string
  readonly regions?: ReadonlyArray<string>
  readonly latency?: LatencySettings
  /** Fly's rate limits enforced as 429 (default true). */
  readonly rateLimits?: boolean
  readonly timings?: Partial<LifecycleTimings>
  /** Right after create, wait answers 404 this long (the Machines API's wait); default 0. */
  readonly waitNotFoundAfterCreateMs?: number
  /** The edge CA's certificate (PEM), answered by GET /_emulator/ca. */
  readonly caCertificate?: string
}

/** What the world's DNS says of a hostname (`POST /_emulator/dns`); `points_at: null` forgets it. */
export const DnsUpdate = Schema.Struct({
  hostname: Schema.String,
  /** The App the hostname now leads to, or null. */
  points_at: Schema.NullOr(Schema.String),
  /** address: A/AAAA to the App's addresses (default); cname: to `<app>.fly.dev`; acme_challenge: only that CNAME. */
  via: Schema.optionalKey(Schema.Literals(["address", "cname", "acme_challenge"])),
})
export type DnsUpdate = typeof DnsUpdate.Type

/** What GET /_emulator/state answers. */
export interface EmulatorState {
  readonly apps: ReadonlyArray<ReturnType<typeof appJson> & { readonly org_slug: string }>
  /** Every Machine with its config, also when its host is not ok (the API then hides it). */
  readonly machines: ReadonlyArray<
    MachineJson & { readonly app: string; readonly config: Readonly<Record<string, unknown>> }
  >
  readonly ips: ReadonlyArray<{
    readonly app: string
    readonly ip: string
    readonly type: string
    readonly shared: boolean
    readonly region: string
    readonly network: { readonly name: string; readonly org_slug: string } | null
  }>
  readonly secrets: ReadonlyArray<{
    readonly app: string
    readonly name: string
    readonly digest: string
    readonly value?: string
  }>
  readonly faults: ReadonlyArray<Fault>
  readonly latency: LatencySettings
  readonly checkMarks: ReadonlyArray<CheckMark>
  /** Every App's certificates, as GET …/certificates/{hostname} answers them. */
  readonly certificates: ReadonlyArray<ReturnType<typeof certificateDetail> & { readonly app: string }>
  /** The world's DNS the emulator was told of, by hostname. */
  readonly dns: ReadonlyArray<{ readonly hostname: string; readonly app: string; readonly via: string }>
  readonly acmeFaults: ReadonlyArray<AcmeFault>
  /** The Fly proxy's UDP counters (all 0 on a host without a proxy). */
  readonly proxy: ProxyStats
  readonly calls: ReadonlyArray<Call>
  /** Calls that have arrived and are not answered yet (held by latency, a slow handler or a fault). */
  readonly pending: ReadonlyArray<PendingCall>
}

type PendingCall = Pick<Call, "at" | "action" | "method" | "path" | "app">

const appNameOf = (body: unknown): string | undefined => {
  if (typeof body !== "object" || body === null) return undefined
  const { name, app_name } = body as { name?: unknown; app_name?: unknown }
  const value = typeof name === "string" && name !== "" ? name : app_name
  return typeof value === "string" ? value : undefined
}

const partialByAction = <S extends Schema.Top>(value: S) =>
  Schema.Struct(
    Object.fromEntries(actions.map((action) => [action, Schema.optionalKey(value)])) as {
      [K in Action]: Schema.optionalKey<S>
    },
  )

const LatencyUpdate = partialByAction(
  Schema.NullOr(Schema.Struct({ ms: Schema.Number, jitterMs: Schema.optionalKey(Schema.Number) })),
)
const RateLimitUpdate = Schema.Struct({
  enabled: Schema.optionalKey(Schema.Boolean),
  rules: Schema.optionalKey(partialByAction(Schema.Struct({ perSecond: Schema.Number, burst: Schema.Number }))),
})

const HostStatusUpdate = Schema.Struct({ host_status: Schema.Literals(hostStatuses) })

/** Where a test puts a man in the middle: an App's public TCP port (`POST /_emulator/interceptions`). */
export const Interception = Schema.Struct({ app: Schema.String, port: Schema.Int })
export type Interception = typeof Interception.Type

const noProxyStats: ProxyStats = {
  udpDatagramsForwarded: 0,
  udpRepliesForwarded: 0,
  udpRepliesDropped: 0,
  tlsInterceptedConnections: 0,
}

const jsonHeaders = { "content-type": "application/json; charset=utf-8" }

/**
 * The emulated Machines API: routing, authentication, rate limits, latency, faults and the call
 * log around the handlers, plus the /_emulator inspection and control endpoints.
 */
export class Emulator {
  readonly store = new Store()
  readonly faults = new Faults()
  readonly calls = new CallLog()
  readonly checkMarks = new CheckMarks()
  private readonly interceptions = new Set<string>()
  readonly acmeFaults = new AcmeFaults()
  readonly latency: LatencyModel
  readonly rateLimiter: RateLimiter
  readonly lifecycle: MachineLifecycle
  private readonly settings: EmulatorSettings
  private readonly host: MachineHost
  private readonly context: ApiContext
  private readonly region: string
  private lastRoutes = "[]"
  private proxySync: Promise<void> = Promise.resolve()
  private readonly pending = new Set<PendingCall>()

  constructor(settings: EmulatorSettings, host: MachineHost) {
    this.settings = settings
    this.host = host
    this.latency = new LatencyModel(settings.latency)
    this.rateLimiter = new RateLimiter(settings.rateLimits ?? true)
    this.lifecycle = new MachineLifecycle(this.store, host, { ...defaultTimings, ...settings.timings })
    const regions = settings.regions ?? defaultRegionCodes
    this.region = nearestRegion(regions)
    this.context = {
      store: this.store,
      lifecycle: this.lifecycle,
      host,
      regions,
      waitNotFoundAfterCreateMs: settings.waitNotFoundAfterCreateMs ?? 0,
      checks: (machine) => checkStatuses(machine, host.checkObservations?.(machine.id), this.checkMarks),
      acmeFaults: this.acmeFaults,
    }
    this.store.subscribe(() => this.syncProxy())
  }

  /**
   * Puts a Machine's host into `status` (and back with "ok"): while it is not ok, the API answers the
   * Machine without its config. False when no such Machine exists.
   */
  setHostStatus(machineId: string, status: HostStatus): boolean {
    const machine = this.store.machines.get(machineId)
    if (machine === undefined) return false
    machine.hostStatus = status
    this.store.changed()
    return true
  }

  /**
   * Declares checks passing or failing on a host that runs no processes. A host that probes checks
   * (the machine runtime) refuses: there the checks report what the Fly proxy really sees, and a
   * mark would claim what the proxy does not route by.
   */
  markChecks(mark: CheckMark): Refusal | undefined {
    if (this.host.checkObservations !== undefined)
      return { refused: "checks are probed by the Fly proxy on this emulator; marks apply to the in-memory host" }
    this.checkMarks.add(mark)
    return undefined
  }

  clearCheckMarks(): void {
    this.checkMarks.clear()
  }

  /**
   * A network fault for tests: from now on a man in the middle terminates TLS on the App's public `port` with a
   * certificate of its own (proxy/tlsInterception.ts). Fly never does this; the path between a client and Fly might.
   */
  interceptTls(target: Interception): void {
    this.interceptions.add(`${target.app}|${target.port}`)
    this.syncProxy()
  }

  clearInterceptions(): void {
    this.interceptions.clear()
    this.syncProxy()
  }

  /**
   * Tells the emulator what the world's DNS says of a hostname. Fly validates on its own once DNS is right: every
   * pending certificate of the hostname is validated at once (and issued unless an ACME fault holds it back).
   */
  setDns(update: DnsUpdate): void {
    const hostname = update.hostname.toLowerCase()
    if (update.points_at === null) this.store.dns.delete(hostname)
    else this.store.dns.set(hostname, { app: update.points_at, via: update.via ?? "address" })
    validateHostname(this.store, this.acmeFaults, hostname)
    this.store.changed()
  }

  /** Arms a Let's Encrypt fault for a hostname until cleared (acmeFaults.ts). */
  injectAcmeFault(fault: AcmeFault): void {
    this.acmeFaults.add(fault)
  }

  /** Disarms every ACME fault; pending certificates are validated again. */
  clearAcmeFaults(): void {
    const hostnames = this.acmeFaults.list().map((fault) => fault.hostname)
    this.acmeFaults.clear()
    for (const hostname of hostnames) validateHostname(this.store, this.acmeFaults, hostname)
    this.store.changed()
  }

  setLatency(settings: Partial<Record<Action, Latency | null>>): void {
    this.latency.set(settings)
  }

  setRateLimits(update: { enabled?: boolean; rules?: Partial<Record<Action, RateLimitRule>> }): void {
    if (update.enabled !== undefined) this.rateLimiter.enabled = update.enabled
    if (update.rules) this.rateLimiter.setRules(update.rules)
  }

  state(options: { showSecrets?: boolean } = {}): EmulatorState {
    const store = this.store
    return {
      apps: [...store.apps.values()].map((app) => ({ ...appJson(this.context, app), org_slug: app.orgSlug })),
      machines: [...store.machines.values()].map((machine) => ({
        app: machine.app,
        ...machineJson(this.context, machine, { complete: true }),
        config: machine.config,
      })),
      ips: store.ips.map((ip) => ({
        app: ip.app,
        ip: ip.ip,
        type: ip.type,
        shared: ip.shared,
        region: ip.region,
        network: ip.network,
      })),
      secrets: [...store.secrets.entries()].flatMap(([app, secrets]) =>
        [...secrets.values()].map((secret) => {
          const { name, digest, value } = secretJson(secret, options.showSecrets === true)
          return { app, name, digest, ...(value !== undefined ? { value } : {}) }
        }),
      ),
      faults: this.faults.list(),
      latency: this.latency.current(),
      checkMarks: this.checkMarks.list(),
      certificates: [...store.certificates.entries()].flatMap(([appName, certificates]) => {
        const app = store.apps.get(appName)
        return app === undefined
          ? []
          : [...certificates.values()].map((certificate) => ({
              app: appName,
              ...certificateDetail(this.context, app, certificate),
            }))
      }),
      dns: [...store.dns.entries()].map(([hostname, record]) => ({ hostname, app: record.app, via: record.via })),
      acmeFaults: this.acmeFaults.list(),
      proxy: this.host.proxyStats?.() ?? noProxyStats,
      calls: this.calls.all(),
      pending: [...this.pending],
    }
  }

  /** Forgets everything: apps (their processes stopped), faults, latency, limits and calls. */
  async reset(): Promise<void> {
    const publicIps = [...new Set(this.store.ips.filter((ip) => ip.type !== "private_v6").map((ip) => ip.ip))]
    for (const app of [...this.store.apps.keys()]) this.lifecycle.removeAll(app)
    this.store.clear()
    await this.lifecycle.settle()
    await Promise.all(publicIps.map((ip) => this.host.releasePublicIp(ip)))
    this.faults.clear()
    this.checkMarks.clear()
    this.interceptions.clear()
    this.acmeFaults.clear()
    this.latency.replace(this.settings.latency ?? {})
    this.rateLimiter.reset(this.settings.rateLimits ?? true)
    this.calls.clear()
  }

  /** Stops every machine process and waits for the proxy's last sync. */
  async shutdown(): Promise<void> {
    for (const app of [...this.store.apps.keys()]) this.lifecycle.removeAll(app)
    await this.lifecycle.settle()
    await this.proxySync
  }

  handle = (request: IncomingMessage, response: ServerResponse): void => {
    this.dispatch(request, response).catch((error: unknown) => {
      console.error(`fly-emulator: ${String(error)}`)
      if (!response.headersSent) this.send(response, failure(500, "internal error"))
      else response.destroy()
    })
  }

  private async dispatch(request: IncomingMessage, response: ServerResponse): Promise<void> {
    response.setHeader("fly-request-id", requestId(this.region))
    const url = new URL(request.url ?? "/", "http://emulator")
    if (url.pathname.startsWith("/_emulator/")) return this.control(request, response, url)
    if (!url.pathname.startsWith("/v1/")) return this.send(response, failure(404, "not found"))
    let segments: Array<string>
    try {
      segments = url.pathname.slice("/v1/".length).split("/").map(decodeURIComponent)
    } catch {
      return this.send(response, failure(400, "malformed path"))
    }
    const matched = matchRoute(request.method ?? "GET", segments)
    if (!matched) return this.send(response, failure(404, "not found"))
    if ("methodMismatch" in matched) return this.send(response, failure(405, "method not allowed"))

    const { route, params } = matched
    const at = new Date().toISOString()
    const text = await readBody(request)
    let body: unknown
    let malformed = false
    try {
      body = text === "" ? undefined : JSON.parse(text)
    } catch {
      malformed = true
    }
    // The App a call is about: in the path, or for a create in the body (either field name Fly accepts).
    const app = params.app ?? (route.action === "createApp" ? appNameOf(body) : undefined)
    const call = {
      at,
      action: route.action,
      method: request.method ?? "GET",
      path: url.pathname + url.search,
      ...(app !== undefined ? { app } : {}),
    }
    const ipType =
      route.action === "createIpAssignment" && typeof body === "object" && body !== null && "type" in body
        ? String(body.type)
        : undefined
    const machineName =
      route.action === "createMachine" && typeof body === "object" && body !== null && "name" in body
        ? String(body.name)
        : undefined
    const pending: PendingCall = call
    this.pending.add(pending)
    response.once("close", () => this.pending.delete(pending))
    const log = (status: number, applied: boolean, fault?: Call["fault"]) => {
      this.pending.delete(pending)
      this.calls.record({
        ...call,
        status,
        applied,
        ...(params.id !== undefined ? { machineId: params.id } : {}),
        ...(ipType !== undefined ? { ipType } : {}),
        ...(machineName !== undefined ? { machineName } : {}),
        ...(fault ? { fault } : {}),
      })
    }
    const answer = (reply: Reply, applied: boolean, fault?: Call["fault"]) => {
      log(reply.status, applied, fault)
      this.send(response, reply)
    }

    if (!isAuthorized(request.headers.authorization, this.settings.token))
      return answer(failure(401, "Authenticate: token validation error"), false)
    if (malformed) return answer(failure(400, "invalid JSON body"), false)

    const key = params.id ?? params.app ?? `org:${url.searchParams.get("org_slug") ?? "personal"}`
    if (!this.rateLimiter.take(route.action, key))
      return answer({ ...failure(429, "rate limit exceeded"), headers: { "retry-after": "1" } }, false, "rateLimit")

    const delay = this.latency.delayFor(route.action)
    if (delay > 0) await sleep(delay)

    const aborted = new AbortController()
    response.on("close", () => {
      if (!response.writableFinished) aborted.abort()
    })
    const run = async (): Promise<Reply> =>
      route.handler(this.context, {
        params,
        query: url.searchParams,
        headers: request.headers,
        body,
        signal: aborted.signal,
      })

    const fault = this.faults.take(route.action, { ipType, machineName })
    if (fault?.kind === "status") {
      const applied = fault.applied === true ? isSuccess(await run()) : false
      const reply = { status: fault.status, body: fault.body ?? { error: `injected fault: status ${fault.status}` } }
      return answer(reply, applied, "status")
    }
    if (fault?.kind === "timeout") {
      const applied = fault.applied === true ? isSuccess(await run()) : false
      if (fault.hang === true) {
        // Never answer; the client gives up and closes the connection.
        log(0, applied, "timeout")
        return
      }
      await sleep(fault.holdMs ?? 1000)
      return answer(failure(408, "request timed out"), applied, "timeout")
    }
    const reply = await run()
    if (fault?.kind === "lostResponse") {
      log(reply.status, isSuccess(reply), "lostResponse")
      response.socket?.destroy()
      return
    }
    answer(reply, isSuccess(reply))
  }

  private async control(request: IncomingMessage, response: ServerResponse, url: URL): Promise<void> {
    const what = `${request.method} ${url.pathname}`
    const text = await readBody(request)
    let body: unknown
    try {
      body = text === "" ? {} : JSON.parse(text)
    } catch {
      return this.send(response, failure(400, "invalid JSON body"))
    }
    const hostStatusPath = /^POST \/_emulator\/machines\/([0-9a-f]+)\/host-status$/.exec(what)
    if (hostStatusPath) {
      const decoded = Schema.decodeUnknownResult(HostStatusUpdate)(body)
      if (Result.isFailure(decoded)) return this.send(response, failure(400, decoded.failure.message))
      const found = this.setHostStatus(hostStatusPath[1] ?? "", decoded.success.host_status)
      return this.send(response, found ? { status: 204 } : failure(404, "machine not found"))
    }
    switch (what) {
      case "POST /_emulator/checks": {
        const decoded = Schema.decodeUnknownResult(CheckMark)(body)
        if (Result.isFailure(decoded)) return this.send(response, failure(400, decoded.failure.message))
        const refusal = this.markChecks(decoded.success)
        return this.send(response, refusal ? failure(409, refusal.refused) : { status: 204 })
      }
      case "POST /_emulator/dns": {
        const decoded = Schema.decodeUnknownResult(DnsUpdate)(body)
        if (Result.isFailure(decoded)) return this.send(response, failure(400, decoded.failure.message))
        this.setDns(decoded.success)
        return this.send(response, { status: 204 })
      }
      case "POST /_emulator/acme-faults": {
        const decoded = Schema.decodeUnknownResult(AcmeFault)(body)
        if (Result.isFailure(decoded)) return this.send(response, failure(400, decoded.failure.message))
        this.injectAcmeFault(decoded.success)
        return this.send(response, { status: 204 })
      }
      case "DELETE /_emulator/acme-faults":
        this.clearAcmeFaults()
        return this.send(response, { status: 204 })
      case "GET /_emulator/ca":
        if (this.settings.caCertificate === undefined) return this.send(response, failure(404, "no edge CA"))
        if (response.headersSent || response.destroyed) return
        response.writeHead(200, { "content-type": "application/x-pem-file" })
        response.end(this.settings.caCertificate)
        return
      case "DELETE /_emulator/checks":
        this.clearCheckMarks()
        return this.send(response, { status: 204 })
      case "POST /_emulator/interceptions": {
        const decoded = Schema.decodeUnknownResult(Interception)(body)
        if (Result.isFailure(decoded)) return this.send(response, failure(400, decoded.failure.message))
        this.interceptTls(decoded.success)
        return this.send(response, { status: 204 })
      }
      case "DELETE /_emulator/interceptions":
        this.clearInterceptions()
        return this.send(response, { status: 204 })
      case "GET /_emulator/state":
        return this.send(response, {
          status: 200,
          body: this.state({ showSecrets: url.searchParams.get("show_secrets") === "true" }),
        })
      case "POST /_emulator/faults": {
        const decoded = Schema.decodeUnknownResult(Schema.Union([Fault, Schema.Array(Fault)]))(body)
        if (Result.isFailure(decoded)) return this.send(response, failure(400, decoded.failure.message))
        for (const fault of Array.isArray(decoded.success) ? decoded.success : [decoded.success]) this.faults.add(fault)
        return this.send(response, { status: 204 })
      }
      case "DELETE /_emulator/faults":
        this.faults.clear()
        return this.send(response, { status: 204 })
      case "POST /_emulator/latency": {
        const decoded = Schema.decodeUnknownResult(LatencyUpdate)(body)
        if (Result.isFailure(decoded)) return this.send(response, failure(400, decoded.failure.message))
        this.setLatency(decoded.success)
        return this.send(response, { status: 204 })
      }
      case "POST /_emulator/rate-limits": {
        const decoded = Schema.decodeUnknownResult(RateLimitUpdate)(body)
        if (Result.isFailure(decoded)) return this.send(response, failure(400, decoded.failure.message))
        this.setRateLimits(decoded.success)
        return this.send(response, { status: 204 })
      }
      case "POST /_emulator/reset":
        await this.reset()
        return this.send(response, { status: 204 })
      default:
        return this.send(response, failure(404, "not found"))
    }
  }

  private send(response: ServerResponse, reply: Reply): void {
    if (response.headersSent || response.destroyed) return
    response.writeHead(reply.status, { ...jsonHeaders, ...reply.headers })
    response.end(reply.body === undefined ? undefined : JSON.stringify(reply.body))
  }

  /** Keeps the proxy's table equal to what apps' addresses and started machines' services say. */
  private syncProxy(): void {
    const routes = proxyRoutes(this.store).map((route) =>
      route.protocol === "tcp" && this.interceptions.has(`${route.app}|${route.port}`)
        ? { ...route, interceptTls: true }
        : route,
    )
    const serialized = JSON.stringify(routes)
    if (serialized === this.lastRoutes) return
    this.lastRoutes = serialized
    this.proxySync = this.proxySync
      .then(() => this.host.syncProxy(routes))
      .catch((error: unknown) => console.error(`fly-emulator: proxy sync failed: ${String(error)}`))
  }
}

const readBody = async (request: IncomingMessage): Promise<string> => {
  const chunks: Array<Buffer> = []
  for await (const chunk of request) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString("utf8")
}
