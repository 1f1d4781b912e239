import { NodeHttpClient } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { type RunningEmulator, startEmulator } from "@fly-tunnel-operator/fly-emulator"
import { ConfigProvider, Effect, Layer, Redacted } from "effect"
import { afterAll, beforeAll } from "vitest"
import {
  type CreateMachineRequest,
  type Endpoint,
  FlyClient,
  type FlyClientConfig,
  RateBudget,
  type RateLimits,
} from "../src/index.ts"

// The client against the emulator (packages/fly-emulator), which enforces Fly's rate limits as 429.
// Assertions are on results and on the emulator's call log, never on timing.

let emu: RunningEmulator
beforeAll(async () => {
  emu = await startEmulator({ port: 0 })
})
afterAll(() => emu?.close())

const fastRetry = { maxRetries: 4, baseDelay: "20 millis", maxDelay: "200 millis" } as const

const clientLayer = (
  options: {
    budget?: Layer.Layer<RateBudget>
    token?: string
    requestTimeout?: FlyClientConfig["requestTimeout"]
  } = {},
) =>
  FlyClient.layerNoDeps({
    baseUrl: emu.baseUrl,
    token: Redacted.make(options.token ?? emu.token),
    retry: fastRetry,
    requestTimeout: options.requestTimeout ?? "20 seconds",
  }).pipe(Layer.provide(NodeHttpClient.layerNodeHttp), Layer.provide(options.budget ?? RateBudget.layer))

let counter = 0
const appName = (prefix: string) => `fly-ct-${prefix}-${process.pid}-${++counter}`

const state = Effect.promise(() => emu.state())
const callsFor = (app: string, action?: Endpoint) =>
  Effect.map(state, (s) =>
    s.calls.filter((call) => call.app === app && (action === undefined || call.action === action)),
  )

const frpsMachine = (name: string): CreateMachineRequest => ({
  name,
  region: "iad",
  config: {
    image: "registry.example/frps:v0.71.0",
    guest: { cpu_kind: "shared", cpus: 1, memory_mb: 256 },
    restart: { policy: "always" },
    metadata: { "fto/tunnel": "uid-1" },
    services: [
      { protocol: "tcp", internal_port: 7000, ports: [{ port: 7000 }], autostart: true, autostop: "off" },
      {
        protocol: "tcp",
        internal_port: 8443,
        ports: [{ port: 443, handlers: ["proxy_proto"], proxy_proto_options: { version: "v2" } }],
      },
    ],
    checks: { "frps-bind": { type: "tcp", port: 7000, interval: "15s", timeout: "2s" } },
  },
})

const newApp = (prefix: string) =>
  Effect.gen(function* () {
    const fly = yield* FlyClient
    const name = appName(prefix)
    yield* fly.createApp({ name, org_slug: "personal" })
    return name
  })

describe("FlyClient against the emulator: every endpoint", () => {
  it.live("apps, secrets, machines, wait, update, IPs, certificates, regions, and teardown", () =>
    Effect.gen(function* () {
      const fly = yield* FlyClient
      const regions = yield* fly.listRegions()
      assert.isTrue(regions.regions.some((region) => region.code === "iad"))

      const name = appName("all")
      const created = yield* fly.createApp({ name, org_slug: "personal", network: `${name}-net` })
      assert.isString(created.id)
      const app = yield* fly.getApp(name)
      assert.strictEqual(app.name, name)
      assert.strictEqual(app.id, created.id)

      const secrets = yield* fly.setSecrets(name, { FRPS_TOKEN: "c2VjcmV0" })
      assert.isAtLeast(secrets.version, 1)
      // Names and digests only: a value never comes back.
      const listedSecrets = yield* fly.listSecrets(name)
      assert.deepStrictEqual(
        listedSecrets.map((secret) => secret.name),
        ["FRPS_TOKEN"],
      )
      assert.notInclude(JSON.stringify(listedSecrets), "c2VjcmV0")
      const apps = yield* fly.listApps("personal")
      assert.deepInclude(
        apps.map((listed) => ({ name: listed.name, network: listed.network })),
        { name, network: `${name}-net` },
      )

      const machine = yield* fly.createMachine(name, { ...frpsMachine("frps-0"), min_secrets_version: secrets.version })
      assert.strictEqual(machine.name, "frps-0")
      assert.strictEqual(machine.region, "iad")
      assert.strictEqual(machine.config?.services?.[0]?.autostop, "off")
      assert.strictEqual(machine.config?.services?.[1]?.ports?.[0]?.proxy_proto_options?.version, "v2")

      yield* fly.waitMachine(name, machine.id, { state: "started", timeoutSeconds: 30, version: machine.instance_id })
      const started = yield* fly.getMachine(name, machine.id)
      assert.strictEqual(started.state, "started")

      const matching = yield* fly.listMachines(name, { metadata: { "fto/tunnel": "uid-1" } })
      assert.deepStrictEqual(
        matching.map((m) => m.id),
        [machine.id],
      )
      assert.deepStrictEqual(yield* fly.listMachines(name, { metadata: { "fto/tunnel": "someone-else" } }), [])

      // A config read back from Fly can be sent back whole.
      assert.isDefined(started.config)
      const updated = yield* fly.updateMachine(name, machine.id, {
        config: { ...(started.config ?? frpsMachine("frps-0").config), env: { LOG_LEVEL: "debug" } },
        current_version: started.instance_id,
      })
      assert.notStrictEqual(updated.instance_id, started.instance_id)
      assert.deepStrictEqual(updated.config?.env, { LOG_LEVEL: "debug" })
      yield* fly.waitMachine(name, machine.id, { state: "started", timeoutSeconds: 30, version: updated.instance_id })

      const v4 = yield* fly.createIpAssignment(name, { type: "v4" })
      const v6 = yield* fly.createIpAssignment(name, { type: "v6" })
      const shared = yield* fly.createIpAssignment(name, { type: "shared_v4" })
      assert.strictEqual(shared.shared, true)
      const flycast = yield* fly.createIpAssignment(name, { type: "private_v6" })
      assert.isTrue(flycast.ip.startsWith("fdaa:"))
      const listed = yield* fly.listIpAssignments(name)
      assert.sameMembers(
        listed.map((ip) => ip.ip),
        [v4.ip, v6.ip, shared.ip, flycast.ip],
      )
      yield* fly.deleteIpAssignment(name, v6.ip)
      assert.notInclude(
        (yield* fly.listIpAssignments(name)).map((ip) => ip.ip),
        v6.ip,
      )

      const certificate = yield* fly.createAcmeCertificate(name, "shop.example.com")
      assert.strictEqual(certificate.status, "pending_validation")
      assert.deepStrictEqual(certificate.dns_requirements?.a, [v4.ip, shared.ip])
      assert.strictEqual(certificate.dns_requirements?.cname, `${name}.fly.dev`)
      const again = yield* Effect.flip(fly.createAcmeCertificate(name, "shop.example.com"))
      assert.deepInclude(again, { _tag: "FlyInvalid", status: 422 })
      assert.deepStrictEqual(
        (yield* fly.listCertificates(name)).map((entry) => [entry.hostname, entry.status]),
        [["shop.example.com", "pending_validation"]],
      )
      // The IPv6 is gone, so only the _acme-challenge CNAME validates (Fly's docs).
      yield* Effect.promise(() => emu.setDns({ hostname: "shop.example.com", points_at: name, via: "acme_challenge" }))
      assert.strictEqual((yield* fly.checkCertificate(name, "shop.example.com")).status, "active")
      assert.strictEqual((yield* fly.getCertificate(name, "shop.example.com")).status, "active")
      yield* fly.deleteCertificate(name, "shop.example.com")
      assert.strictEqual((yield* Effect.flip(fly.getCertificate(name, "shop.example.com")))._tag, "FlyNotFound")

      yield* fly.deleteMachine(name, machine.id)
      yield* fly.deleteApp(name)
      const gone = yield* Effect.flip(fly.getApp(name))
      assert.strictEqual(gone._tag, "FlyNotFound")

      const log = yield* callsFor(name)
      assert.isTrue(
        log.every((call) => call.status !== 429),
        "the budget kept every call under Fly's limits",
      )
    }).pipe(Effect.provide(clientLayer())),
  )
})

describe("FlyClient against the emulator: what Fly really sends", () => {
  it.live("a Machine on an unreachable host decodes without config, beside healthy ones", () =>
    Effect.gen(function* () {
      const fly = yield* FlyClient
      const name = yield* newApp("host")
      const sick = yield* fly.createMachine(name, frpsMachine("frps-0"))
      const well = yield* fly.createMachine(name, frpsMachine("frps-1"))
      yield* Effect.promise(() => emu.setHostStatus(sick.id, "unreachable"))
      const listed = yield* fly.listMachines(name, { metadata: { "fto/tunnel": "uid-1" } })
      const byId = new Map(listed.map((machine) => [machine.id, machine]))
      assert.strictEqual(byId.get(sick.id)?.config, undefined)
      assert.strictEqual(byId.get(sick.id)?.host_status, "unreachable")
      assert.deepStrictEqual(byId.get(sick.id)?.incomplete_config?.metadata, { "fto/tunnel": "uid-1" })
      assert.strictEqual(byId.get(well.id)?.config?.image, "registry.example/frps:v0.71.0")
      assert.strictEqual((yield* fly.getMachine(name, sick.id)).host_status, "unreachable")
      yield* Effect.promise(() => emu.setHostStatus(sick.id, "ok"))
      assert.isDefined((yield* fly.getMachine(name, sick.id)).config)
    }).pipe(Effect.provide(clientLayer())),
  )

  it.live("events with exit_event, checks by name and regions with geo_region decode", () =>
    Effect.gen(function* () {
      const fly = yield* FlyClient
      const name = yield* newApp("events")
      const machine = yield* fly.createMachine(name, frpsMachine("frps-0"))
      yield* fly.waitMachine(name, machine.id, { state: "started", timeoutSeconds: 30 })
      yield* Effect.promise(() =>
        fetch(`${emu.baseUrl}/v1/apps/${name}/machines/${machine.id}/stop`, {
          method: "POST",
          headers: { authorization: `Bearer ${emu.token}`, "content-type": "application/json" },
          body: JSON.stringify({ timeout: "0s" }),
        }),
      )
      yield* fly.waitMachine(name, machine.id, { state: "stopped", timeoutSeconds: 30 })
      const stopped = yield* fly.getMachine(name, machine.id)
      assert.strictEqual(stopped.events?.[0]?.request?.exit_event?.requested_stop, true)
      assert.strictEqual(stopped.events?.[0]?.request?.exit_event?.signal, -1)
      assert.deepStrictEqual(
        stopped.checks?.map((check) => [check.name, check.status]),
        [["frps-bind", "critical"]],
      )
      const regions = yield* fly.listRegions()
      assert.isTrue(regions.regions.every((region) => region.geo_region !== undefined))
    }).pipe(Effect.provide(clientLayer())),
  )
})

describe("FlyClient.layerConfig", () => {
  it.live("reads FLY_API_BASE_URL and FLY_API_TOKEN (a token pasted with its FlyV1 scheme)", () =>
    Effect.gen(function* () {
      const fly = yield* FlyClient
      const regions = yield* fly.listRegions()
      assert.isAbove(regions.regions.length, 0)
    }).pipe(
      Effect.provide(
        FlyClient.layerConfig.pipe(
          Layer.provide(
            ConfigProvider.layer(
              ConfigProvider.fromEnvRecord({ FLY_API_BASE_URL: emu.baseUrl, FLY_API_TOKEN: `FlyV1 ${emu.token}` }),
            ),
          ),
        ),
      ),
    ),
  )
})

describe("FlyClient against the emulator: errors", () => {
  it.live("name taken, not found, invalid region, wait timeout, bad token", () =>
    Effect.gen(function* () {
      const fly = yield* FlyClient
      const name = yield* newApp("err")

      const taken = yield* Effect.flip(fly.createApp({ name, org_slug: "personal" }))
      assert.strictEqual(taken._tag, "FlyNameTaken")
      assert.strictEqual(taken.status, 422)

      assert.strictEqual((yield* Effect.flip(fly.getApp(`${name}-missing`)))._tag, "FlyNotFound")
      assert.strictEqual((yield* Effect.flip(fly.getMachine(name, "0000000000dead")))._tag, "FlyNotFound")
      assert.strictEqual((yield* Effect.flip(fly.deleteMachine(name, "0000000000dead")))._tag, "FlyNotFound")

      const badRegion = yield* Effect.flip(fly.createMachine(name, { ...frpsMachine("frps-0"), region: "zzz" }))
      assert.strictEqual(badRegion._tag, "FlyInvalid")
      assert.strictEqual(badRegion.status, 422)

      const machine = yield* fly.createMachine(name, frpsMachine("frps-0"))
      yield* fly.waitMachine(name, machine.id, { state: "started", timeoutSeconds: 30 })
      const notStopped = yield* Effect.flip(fly.waitMachine(name, machine.id, { state: "stopped", timeoutSeconds: 1 }))
      assert.strictEqual(notStopped._tag, "FlyTimeout")
      assert.strictEqual(notStopped.status, 408)
      assert.strictEqual((yield* callsFor(name, "waitMachine")).filter((c) => c.status === 408).length, 1)

      const unauthorized = yield* Effect.flip(
        Effect.flatMap(FlyClient, (other) => other.getApp(name)).pipe(
          Effect.provide(clientLayer({ token: "fm2_not-the-token" })),
        ),
      )
      assert.strictEqual(unauthorized._tag, "FlyUnauthorized")
      assert.strictEqual(unauthorized.status, 401)
      assert.notInclude(JSON.stringify(unauthorized), "fm2_not-the-token")
      assert.notInclude(unauthorized.message, "fm2_not-the-token")
    }).pipe(Effect.provide(clientLayer())),
  )
})

describe("FlyClient against the emulator: rate limits", () => {
  const burst = (name: string) =>
    Effect.gen(function* () {
      const fly = yield* FlyClient
      const apps = yield* Effect.forEach(Array.from({ length: 6 }), () => fly.getApp(name), {
        concurrency: "unbounded",
      })
      assert.strictEqual(apps.length, 6)
      return yield* callsFor(name, "getApp")
    })

  it.live("without a budget Fly answers 429 and the client retries until every call succeeds", () =>
    Effect.gen(function* () {
      const name = yield* newApp("nobudget")
      const calls = yield* burst(name).pipe(Effect.provide(clientLayer({ budget: RateBudget.layerUnlimited })))
      const limited = calls.filter((call) => call.status === 429)
      assert.isAtLeast(limited.length, 1)
      assert.strictEqual(calls.filter((call) => call.status === 200).length, 6)
    }).pipe(Effect.provide(clientLayer())),
  )

  it.live("with the budget the same burst waits instead and provokes no 429", () =>
    Effect.gen(function* () {
      const name = yield* newApp("budget")
      // One token below Fly's burst, so the client's and the emulator's clocks need not agree exactly.
      const limits: RateLimits = { default: { perSecond: 1, burst: 2 }, byEndpoint: {} }
      const calls = yield* burst(name).pipe(Effect.provide(clientLayer({ budget: RateBudget.layerWith(limits) })))
      assert.strictEqual(calls.length, 6)
      assert.isTrue(calls.every((call) => call.status === 200))
    }).pipe(Effect.provide(clientLayer())),
  )
})

describe("FlyClient against the emulator: injected faults", () => {
  it.live("createIpAssignment answered 502 after Fly applied it: not retried, and listing shows the one IPv4", () =>
    Effect.gen(function* () {
      const fly = yield* FlyClient
      const name = yield* newApp("f502")
      yield* Effect.promise(() =>
        emu.injectFault({ action: "createIpAssignment", kind: "status", status: 502, applied: true }),
      )
      const error = yield* Effect.flip(fly.createIpAssignment(name, { type: "v4" }))
      assert.strictEqual(error._tag, "FlyTransport")
      const calls = yield* callsFor(name, "createIpAssignment")
      assert.deepStrictEqual(
        calls.map((call) => [call.status, call.applied]),
        [[502, true]],
      )
      assert.strictEqual((yield* fly.listIpAssignments(name)).length, 1)
    }).pipe(Effect.provide(clientLayer())),
  )

  it.live("createMachine answered 503 without applying: not retried, nothing made", () =>
    Effect.gen(function* () {
      const fly = yield* FlyClient
      const name = yield* newApp("f503")
      yield* Effect.promise(() => emu.injectFault({ action: "createMachine", kind: "status", status: 503 }))
      const error = yield* Effect.flip(fly.createMachine(name, frpsMachine("frps-0")))
      assert.strictEqual(error._tag, "FlyTransport")
      assert.deepStrictEqual(
        (yield* callsFor(name, "createMachine")).map((call) => [call.status, call.applied]),
        [[503, false]],
      )
      assert.deepStrictEqual(yield* fly.listMachines(name), [])
    }).pipe(Effect.provide(clientLayer())),
  )

  it.live("createMachine with a lost response: one attempt, an ambiguous FlyTimeout, and listing finds it", () =>
    Effect.gen(function* () {
      const fly = yield* FlyClient
      const name = yield* newApp("flost")
      yield* Effect.promise(() => emu.injectFault({ action: "createMachine", kind: "lostResponse", count: 1 }))
      const error = yield* Effect.flip(fly.createMachine(name, frpsMachine("frps-0")))
      assert.strictEqual(error._tag, "FlyTimeout")
      assert.strictEqual(error._tag === "FlyTimeout" ? error.reason : undefined, "responseLost")
      const calls = yield* callsFor(name, "createMachine")
      assert.deepStrictEqual(
        calls.map((call) => call.applied),
        [true],
      )
      const machines = yield* fly.listMachines(name, { metadata: { "fto/tunnel": "uid-1" } })
      assert.deepStrictEqual(
        machines.map((m) => m.name),
        ["frps-0"],
      )
    }).pipe(Effect.provide(clientLayer())),
  )

  it.live("createIpAssignment answered 408 after applying: not retried, and listing shows the one IPv4", () =>
    Effect.gen(function* () {
      const fly = yield* FlyClient
      const name = yield* newApp("f408")
      yield* Effect.promise(() =>
        emu.injectFault({ action: "createIpAssignment", kind: "timeout", holdMs: 50, applied: true, count: 1 }),
      )
      const error = yield* Effect.flip(fly.createIpAssignment(name, { type: "v4" }))
      assert.strictEqual(error._tag, "FlyTimeout")
      assert.strictEqual(error.status, 408)
      assert.strictEqual((yield* callsFor(name, "createIpAssignment")).length, 1)
      const ips = yield* fly.listIpAssignments(name)
      assert.strictEqual(ips.filter((ip) => ip.shared !== true && !ip.ip.includes(":")).length, 1)
    }).pipe(Effect.provide(clientLayer())),
  )

  it.live("getMachine with a lost response and deleteApp with a 502 are retried", () =>
    Effect.gen(function* () {
      const fly = yield* FlyClient
      const name = yield* newApp("fget")
      const machine = yield* fly.createMachine(name, frpsMachine("frps-0"))
      yield* Effect.promise(() => emu.injectFault({ action: "getMachine", kind: "lostResponse", count: 1 }))
      assert.strictEqual((yield* fly.getMachine(name, machine.id)).id, machine.id)
      assert.deepStrictEqual(
        (yield* callsFor(name, "getMachine")).map((call) => call.fault ?? "none"),
        ["lostResponse", "none"],
      )

      yield* Effect.promise(() => emu.injectFault({ action: "deleteApp", kind: "status", status: 502, count: 1 }))
      yield* fly.deleteApp(name)
      assert.deepStrictEqual(
        (yield* callsFor(name, "deleteApp")).map((call) => call.status),
        [502, 202],
      )
    }).pipe(Effect.provide(clientLayer())),
  )

  it.live("a getApp that never answers times out on the client and is retried", () =>
    Effect.gen(function* () {
      const name = yield* newApp("fhang")
      yield* Effect.promise(() => emu.injectFault({ action: "getApp", kind: "timeout", hang: true, count: 1 }))
      const app = yield* Effect.flatMap(FlyClient, (fly) => fly.getApp(name)).pipe(
        Effect.provide(clientLayer({ requestTimeout: "1 second" })),
      )
      assert.strictEqual(app.name, name)
      assert.strictEqual((yield* callsFor(name, "getApp")).length, 2)
    }).pipe(Effect.provide(clientLayer())),
  )

  it.live("a 500 that persists ends as FlyTransport after the bounded retries", () =>
    Effect.gen(function* () {
      const fly = yield* FlyClient
      const name = yield* newApp("f500")
      yield* Effect.promise(() => emu.injectFault({ action: "listMachines", kind: "status", status: 500, count: 20 }))
      const error = yield* Effect.flip(fly.listMachines(name))
      yield* Effect.promise(() => emu.clearFaults())
      assert.strictEqual(error._tag, "FlyTransport")
      assert.strictEqual(error.status, 500)
      assert.strictEqual((yield* callsFor(name, "listMachines")).length, fastRetry.maxRetries + 1)
    }).pipe(Effect.provide(clientLayer())),
  )
})
