import { type EmulatorOptions, type RunningEmulator, startEmulator } from "../src/index.ts"

export interface ApiResponse {
  readonly status: number
  readonly headers: Headers
  // biome-ignore lint/suspicious/noExplicitAny: test bodies are inspected field by field
  readonly body: any
}

export interface Harness {
  readonly emulator: RunningEmulator
  readonly call: (
    method: string,
    path: string,
    body?: unknown,
    init?: { authorization?: string | null; signal?: AbortSignal },
  ) => Promise<ApiResponse>
  /** A fresh app name, unique within the run. */
  readonly appName: (prefix?: string) => string
}

let counter = 0

/** An emulator on a random loopback port (rate limits off unless asked) and a JSON caller. */
export const startHarness = async (options: EmulatorOptions = {}): Promise<Harness> => {
  const emulator = await startEmulator({ rateLimits: false, ...options })
  const call: Harness["call"] = async (method, path, body, init = {}) => {
    const authorization = init.authorization === undefined ? `Bearer ${emulator.token}` : init.authorization
    const response = await fetch(`${emulator.baseUrl}${path}`, {
      method,
      headers: {
        ...(authorization === null ? {} : { authorization }),
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      ...(init.signal ? { signal: init.signal } : {}),
    })
    const text = await response.text()
    return { status: response.status, headers: response.headers, body: text === "" ? undefined : JSON.parse(text) }
  }
  const appName = (prefix = "app") => {
    counter += 1
    return `${prefix}-${process.pid}-${counter}`
  }
  return { emulator, call, appName }
}

/** Polls `check` until it returns a value other than undefined. */
export const eventually = async <A>(check: () => Promise<A | undefined>, timeoutMs = 20_000): Promise<A> => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error("condition not met in time")
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

export const frpsMachine = (overrides: Record<string, unknown> = {}) => ({
  region: "iad",
  config: {
    image: "registry.example/frps:v0.71.0",
    guest: { cpu_kind: "shared", cpus: 1, memory_mb: 256 },
    restart: { policy: "always" },
    metadata: { "k8s-namespace": "default", "k8s-service": "my-svc" },
    services: [
      { protocol: "tcp", internal_port: 7000, ports: [{ port: 7000 }], autostart: true, autostop: "off" },
      {
        protocol: "tcp",
        internal_port: 8443,
        ports: [{ port: 443, handlers: ["proxy_proto"], proxy_proto_options: { version: "v2" } }],
      },
      { protocol: "udp", internal_port: 5353, ports: [{ port: 5353 }] },
    ],
    checks: { "frps-bind": { type: "tcp", port: 7000, interval: "15s", timeout: "2s" } },
  },
  ...overrides,
})

/** Creates an app and waits until a machine in it has started. */
export const startedMachine = async (harness: Harness, app: string, request: unknown = frpsMachine()) => {
  const created = await harness.call("POST", `/v1/apps/${app}/machines`, request)
  if (created.status !== 200) throw new Error(`create machine: ${created.status} ${JSON.stringify(created.body)}`)
  const waited = await harness.call("GET", `/v1/apps/${app}/machines/${created.body.id}/wait?state=started&timeout=60`)
  if (waited.status !== 200) throw new Error(`wait: ${waited.status}`)
  return created.body as { id: string; instance_id: string; name: string }
}

export const createApp = async (harness: Harness, name: string) => {
  const created = await harness.call("POST", "/v1/apps", { name, org_slug: "personal" })
  if (created.status !== 201) throw new Error(`create app: ${created.status} ${JSON.stringify(created.body)}`)
}
