import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Layer, Metric, Redacted } from "effect"
import { TestClock } from "effect/testing"
import {
  type Endpoint,
  FlyClient,
  type FlyError,
  flyApiRequestsTotal,
  MutationGate,
  RateBudget,
  type RetryOptions,
} from "../src/index.ts"
import { type FakeAnswer, makeFakeHttp, type RecordedRequest } from "./fakeHttp.ts"

const token = "fm2_TOPSECRETmacaroon,fo1_TOPSECRETuser"
const baseUrl = "http://fly.test"
const fastRetry: RetryOptions = { maxRetries: 3, baseDelay: "1 millis", maxDelay: "5 millis" }

const machineJson = {
  id: "1857156b526dd8",
  name: "frps-0",
  state: "started",
  region: "iad",
  instance_id: "01HEPA330HZ37A78TK080NAK1M",
  private_ip: "fdaa::2",
  config: { image: "frps", services: [{ protocol: "tcp", internal_port: 7000, autostop: false }] },
}

/** A client over the fake; `budget` defaults to none so attempts are only limited by retries. */
const clientWith = (
  answer: (request: RecordedRequest, attempt: number) => FakeAnswer,
  options: { retry?: RetryOptions; budget?: Layer.Layer<RateBudget> } = {},
) => {
  const fake = makeFakeHttp(answer)
  const layer = FlyClient.layerNoDeps({
    baseUrl,
    token: Redacted.make(token),
    retry: options.retry ?? fastRetry,
    requestTimeout: "10 seconds",
  }).pipe(Layer.provide(fake.layer), Layer.provide(options.budget ?? RateBudget.layerUnlimited))
  return { requests: fake.requests, layer }
}

const sequence =
  (...answers: ReadonlyArray<FakeAnswer>) =>
  (_request: RecordedRequest, attempt: number): FakeAnswer =>
    answers[Math.min(attempt, answers.length) - 1] ?? { status: 500 }

const ok = (body: unknown): FakeAnswer => ({ status: 200, body })

describe("FlyClient rate budget", () => {
  const created = (): FakeAnswer => ({ status: 201, body: { id: "a", created_at: 1 } })

  it.effect("App creation counts against the org (there is no app id yet): the third create waits a second", () =>
    Effect.gen(function* () {
      const fake = clientWith(created, { budget: RateBudget.layer })
      const program = Effect.gen(function* () {
        const fly = yield* FlyClient
        const fibers = yield* Effect.forEach(["a", "b", "c", "d"], (name) =>
          Effect.forkChild(fly.createApp({ name, org_slug: "personal" })),
        )
        yield* Effect.yieldNow
        assert.strictEqual(fake.requests.length, 2)
        yield* TestClock.adjust(1050)
        yield* Effect.yieldNow
        assert.strictEqual(fake.requests.length, 3)
        yield* TestClock.adjust(1050)
        yield* Effect.forEach(fibers, Fiber.join)
        assert.strictEqual(fake.requests.length, 4)
      })
      yield* program.pipe(Effect.provide(fake.layer))
    }),
  )
})

describe("FlyClient requests", () => {
  it.live("sends each call to its /v1 path with Fly's auth header", () =>
    Effect.gen(function* () {
      const fake = clientWith((request) => {
        const path = request.url.pathname
        if (path === "/v1/apps" && request.method === "POST") return { status: 201, body: { id: "a1", created_at: 1 } }
        if (path.endsWith("/wait")) return ok({ ok: true })
        if (path.endsWith("/ip_assignments") && request.method === "GET") return ok({ ips: [] })
        if (path.endsWith("/ip_assignments")) return ok({ ip: "137.66.1.1", region: "global", shared: false })
        if (path.endsWith("/secrets")) return ok({ secrets: [], version: 4 })
        if (path === "/v1/platform/regions") return ok({ nearest: "iad", regions: [{ code: "iad" }] })
        if (path.endsWith("/machines") && request.method === "GET") return ok([machineJson])
        if (path.includes("/machines")) return request.method === "DELETE" ? ok({ ok: true }) : ok(machineJson)
        if (request.method === "DELETE") return { status: request.url.pathname.includes("ip_assignments") ? 204 : 202 }
        return ok({ id: "a1", name: "my-app" })
      })
      const seen = yield* Effect.gen(function* () {
        const fly = yield* FlyClient
        yield* fly.createApp({ name: "my-app", org_slug: "personal", network: "tunnel-net" })
        yield* fly.getApp("my-app")
        yield* fly.deleteApp("my-app")
        const machines = yield* fly.listMachines("my-app", { metadata: { "fto/tunnel": "uid-1", owner: "x" } })
        assert.strictEqual(machines[0]?.config?.services?.[0]?.autostop, "off")
        yield* fly.getMachine("my-app", "m1")
        yield* fly.createMachine("my-app", {
          name: "frps-0",
          region: "iad",
          config: { image: "frps" },
          min_secrets_version: 4,
        })
        yield* fly.updateMachine("my-app", "m1", { config: { image: "frps:2" }, current_version: "01H" })
        yield* fly.waitMachine("my-app", "m1", { state: "started", timeoutSeconds: 500, version: "01H" })
        yield* fly.waitMachine("my-app", "m1", { state: "stopped", timeoutSeconds: 0 })
        yield* fly.deleteMachine("my-app", "m1")
        assert.deepStrictEqual(yield* fly.listIpAssignments("my-app"), [])
        yield* fly.createIpAssignment("my-app", { type: "v4" })
        yield* fly.deleteIpAssignment("my-app", "2a09:8280:1::1")
        assert.deepStrictEqual(yield* fly.setSecrets("my-app", { FRPS_TOML: "dG9t", OLD: null }), { version: 4 })
        assert.strictEqual((yield* fly.listRegions()).nearest, "iad")
        return fake.requests
      }).pipe(Effect.provide(fake.layer))

      const lines = seen.map((r) => `${r.method} ${r.url.pathname}${r.url.search}`)
      assert.deepStrictEqual(lines, [
        "POST /v1/apps",
        "GET /v1/apps/my-app",
        "DELETE /v1/apps/my-app?force=true",
        "GET /v1/apps/my-app/machines?metadata.fto%2Ftunnel=uid-1&metadata.owner=x",
        "GET /v1/apps/my-app/machines/m1",
        "POST /v1/apps/my-app/machines",
        "POST /v1/apps/my-app/machines/m1",
        "GET /v1/apps/my-app/machines/m1/wait?state=started&timeout=60&version=01H",
        "GET /v1/apps/my-app/machines/m1/wait?state=stopped&timeout=1",
        "DELETE /v1/apps/my-app/machines/m1?force=true",
        "GET /v1/apps/my-app/ip_assignments",
        "POST /v1/apps/my-app/ip_assignments",
        "DELETE /v1/apps/my-app/ip_assignments/2a09%3A8280%3A1%3A%3A1",
        "POST /v1/apps/my-app/secrets",
        "GET /v1/platform/regions",
      ])
      assert.deepStrictEqual(seen[0]?.body, { name: "my-app", org_slug: "personal", network: "tunnel-net" })
      assert.deepStrictEqual(seen[5]?.body, {
        name: "frps-0",
        region: "iad",
        config: { image: "frps" },
        min_secrets_version: 4,
      })
      assert.deepStrictEqual(seen[6]?.body, { config: { image: "frps:2" }, current_version: "01H" })
      assert.deepStrictEqual(seen[11]?.body, { type: "v4" })
      assert.deepStrictEqual(seen[13]?.body, { values: { FRPS_TOML: "dG9t", OLD: null } })
      for (const request of seen) assert.strictEqual(request.headers.authorization, "FlyV1 fm2_TOPSECRETmacaroon")
    }),
  )
})

type Case = {
  readonly name: string
  readonly endpoint: "getApp" | "createMachine" | "waitMachine" | "createApp" | "deleteMachine"
  readonly answers: ReadonlyArray<FakeAnswer>
  readonly attempts: number
  readonly outcome: "ok" | FlyError["_tag"]
}

const run = (endpoint: Case["endpoint"]) =>
  Effect.gen(function* () {
    const fly = yield* FlyClient
    switch (endpoint) {
      case "getApp":
        return yield* fly.getApp("my-app")
      case "createApp":
        return yield* fly.createApp({ name: "my-app", org_slug: "personal" })
      case "createMachine":
        return yield* fly.createMachine("my-app", { config: { image: "frps" } })
      case "waitMachine":
        return yield* fly.waitMachine("my-app", "m1", { state: "started", timeoutSeconds: 60 })
      case "deleteMachine":
        return yield* fly.deleteMachine("my-app", "m1")
    }
  })

const getApp = Effect.flatMap(FlyClient, (fly) => fly.getApp("my-app"))

const success: Record<Case["endpoint"], FakeAnswer> = {
  getApp: ok({ id: "a", name: "my-app" }),
  createApp: { status: 201, body: { id: "a" } },
  createMachine: ok(machineJson),
  waitMachine: ok({ ok: true }),
  deleteMachine: ok({ ok: true }),
}

const table: ReadonlyArray<Case> = [
  ...(["getApp", "deleteMachine"] as const).flatMap(
    (endpoint): ReadonlyArray<Case> => [
      {
        name: "503, 503, ok",
        endpoint,
        answers: [{ status: 503 }, { status: 503 }, success[endpoint]],
        attempts: 3,
        outcome: "ok",
      },
      { name: "429, ok", endpoint, answers: [{ status: 429 }, success[endpoint]], attempts: 2, outcome: "ok" },
      { name: "408, ok", endpoint, answers: [{ status: 408 }, success[endpoint]], attempts: 2, outcome: "ok" },
      { name: "reset, ok", endpoint, answers: [{ fail: "reset" }, success[endpoint]], attempts: 2, outcome: "ok" },
      { name: "refused, ok", endpoint, answers: [{ fail: "refused" }, success[endpoint]], attempts: 2, outcome: "ok" },
      { name: "500 forever", endpoint, answers: [{ status: 500 }], attempts: 4, outcome: "FlyTransport" },
      { name: "429 forever", endpoint, answers: [{ status: 429 }], attempts: 4, outcome: "FlyRateLimited" },
      {
        name: "404",
        endpoint,
        answers: [{ status: 404, body: { error: "app not found" } }],
        attempts: 1,
        outcome: "FlyNotFound",
      },
      { name: "401", endpoint, answers: [{ status: 401 }], attempts: 1, outcome: "FlyUnauthorized" },
      { name: "400", endpoint, answers: [{ status: 400 }], attempts: 1, outcome: "FlyInvalid" },
      { name: "412", endpoint, answers: [{ status: 412 }], attempts: 1, outcome: "FlyConflict" },
    ],
  ),
  ...(["createMachine", "createApp"] as const).flatMap(
    (endpoint): ReadonlyArray<Case> => [
      {
        name: "408 is ambiguous",
        endpoint,
        answers: [{ status: 408 }, success[endpoint]],
        attempts: 1,
        outcome: "FlyTimeout",
      },
      {
        name: "lost response is ambiguous",
        endpoint,
        answers: [{ fail: "reset" }, success[endpoint]],
        attempts: 1,
        outcome: "FlyTimeout",
      },
      {
        name: "refused (never sent), ok",
        endpoint,
        answers: [{ fail: "refused" }, success[endpoint]],
        attempts: 2,
        outcome: "ok",
      },
      { name: "429, ok", endpoint, answers: [{ status: 429 }, success[endpoint]], attempts: 2, outcome: "ok" },
      // A 5xx may follow an applied create: the caller lists before it creates again.
      {
        name: "503 is ambiguous",
        endpoint,
        answers: [{ status: 503 }, success[endpoint]],
        attempts: 1,
        outcome: "FlyTransport",
      },
    ],
  ),
  {
    name: "capacity is not retried",
    endpoint: "createMachine",
    answers: [{ status: 503, body: { error: "out of capacity", status: "insufficient_capacity" } }],
    attempts: 1,
    outcome: "FlyCapacity",
  },
  {
    name: "name_taken",
    endpoint: "createApp",
    answers: [{ status: 422, body: { error: "Validation failed: Name has already been taken", status: "name_taken" } }],
    attempts: 1,
    outcome: "FlyNameTaken",
  },
  {
    name: "200 with a wrong shape",
    endpoint: "getApp",
    answers: [ok({ id: 5 })],
    attempts: 1,
    outcome: "FlyDecodeError",
  },
  {
    name: "408 = not reached yet",
    endpoint: "waitMachine",
    answers: [{ status: 408 }],
    attempts: 1,
    outcome: "FlyTimeout",
  },
  {
    name: "503, ok",
    endpoint: "waitMachine",
    answers: [{ status: 503 }, success.waitMachine],
    attempts: 2,
    outcome: "ok",
  },
]

describe("FlyClient retry decisions", () => {
  for (const testCase of table) {
    it.live(`${testCase.endpoint}: ${testCase.name} -> ${testCase.attempts} attempt(s), ${testCase.outcome}`, () =>
      Effect.gen(function* () {
        const fake = clientWith(sequence(...testCase.answers))
        const result = yield* run(testCase.endpoint).pipe(Effect.provide(fake.layer), Effect.result)
        assert.strictEqual(fake.requests.length, testCase.attempts)
        assert.strictEqual(result._tag === "Success" ? "ok" : result.failure._tag, testCase.outcome)
        if (result._tag === "Failure") {
          const error = result.failure
          assert.strictEqual(error.endpoint, testCase.endpoint)
          for (const rendered of [
            error.message,
            String(error),
            JSON.stringify(error),
            JSON.stringify(Object.entries(error)),
          ]) {
            assert.notInclude(rendered, "TOPSECRET")
          }
        }
      }),
    )
  }

  it.effect("Retry-After is honoured when longer than the backoff", () =>
    Effect.gen(function* () {
      const fake = clientWith(
        sequence({ status: 429, headers: { "retry-after": "5" } }, { status: 200, body: { id: "a", name: "my-app" } }),
      )
      const fiber = yield* Effect.forkChild(getApp.pipe(Effect.provide(fake.layer)))
      yield* untilRequests(fake.requests, 1)
      yield* TestClock.adjust("4900 millis")
      yield* settle
      assert.strictEqual(fake.requests.length, 1)
      yield* TestClock.adjust("200 millis")
      yield* untilRequests(fake.requests, 2)
      const app = yield* Fiber.join(fiber)
      assert.strictEqual(app.name, "my-app")
    }),
  )

  it.effect("a client timeout is retried for a get, but ends a create as an ambiguous FlyTimeout", () =>
    Effect.gen(function* () {
      const getFake = clientWith(sequence({ hang: true }, { status: 200, body: { id: "a", name: "my-app" } }))
      const get = yield* Effect.forkChild(getApp.pipe(Effect.provide(getFake.layer)))
      yield* untilRequests(getFake.requests, 1)
      yield* TestClock.adjust("11 seconds")
      yield* untilRequests(getFake.requests, 2)
      assert.strictEqual((yield* Fiber.join(get)).name, "my-app")

      const createFake = clientWith(sequence({ hang: true }, success.createMachine))
      const create = yield* Effect.forkChild(run("createMachine").pipe(Effect.provide(createFake.layer), Effect.flip))
      yield* untilRequests(createFake.requests, 1)
      yield* TestClock.adjust("11 seconds")
      const error = yield* Fiber.join(create)
      assert.strictEqual(error._tag, "FlyTimeout")
      assert.strictEqual(error._tag === "FlyTimeout" ? error.reason : "", "client")
      assert.strictEqual(createFake.requests.length, 1)
    }),
  )

  it.effect("asks the mutation gate before every change, retries included, and never before a read", () =>
    Effect.gen(function* () {
      let open = true
      const gate = Effect.suspend(() => (open ? Effect.void : Effect.interrupt))
      // A delete answered 503 twice: the gate closes after the first attempt, so the retry is never sent.
      const fake = clientWith((request, attempt) => {
        if (request.method === "GET") return { status: 200, body: { id: "a", name: "my-app" } }
        open = attempt < 1
        return { status: 503 }
      })
      const fiber = yield* Effect.forkChild(
        Effect.gen(function* () {
          const fly = yield* FlyClient
          return yield* fly.deleteMachine("my-app", "m1")
        }).pipe(Effect.provide(fake.layer), Effect.provideService(MutationGate, gate), Effect.exit),
      )
      yield* TestClock.adjust("11 seconds")
      const deleted = yield* Fiber.join(fiber)
      assert.isTrue(Exit.hasInterrupts(deleted))
      assert.strictEqual(fake.requests.filter((request) => request.method === "DELETE").length, 1)
      // Reads pass a closed gate.
      const app = yield* getApp.pipe(Effect.provide(fake.layer), Effect.provideService(MutationGate, gate))
      assert.strictEqual(app.name, "my-app")
    }),
  )

  it.effect("waits on the rate budget instead of sending", () =>
    Effect.gen(function* () {
      const fake = clientWith(() => success.createMachine, { budget: RateBudget.layer })
      const fiber = yield* Effect.forkChild(
        Effect.gen(function* () {
          const fly = yield* FlyClient
          yield* Effect.forEach(
            Array.from({ length: 5 }),
            () => fly.createMachine("my-app", { config: { image: "frps" } }),
            {
              concurrency: "unbounded",
            },
          )
        }).pipe(Effect.provide(fake.layer)),
      )
      // The burst (one below Fly's 3), then one a second.
      yield* untilRequests(fake.requests, 2)
      yield* settle
      assert.strictEqual(fake.requests.length, 2)
      // Fly's 1 a second, and 5 % headroom for jitter on the way.
      yield* TestClock.adjust("1050 millis")
      yield* untilRequests(fake.requests, 3)
      yield* TestClock.adjust("1050 millis")
      yield* untilRequests(fake.requests, 4)
      yield* TestClock.adjust("1050 millis")
      yield* Fiber.join(fiber)
      assert.strictEqual(fake.requests.length, 5)
    }),
  )
})

describe("FlyClient metrics", () => {
  it.live("counts every attempt by endpoint and status", () =>
    Effect.gen(function* () {
      const count = (endpoint: Endpoint, status: string) =>
        Metric.value(Metric.withAttributes(flyApiRequestsTotal, { endpoint, status })).pipe(Effect.map((s) => s.count))
      const before503 = yield* count("listRegions", "503")
      const before200 = yield* count("listRegions", "200")
      const beforeError = yield* count("listRegions", "error")
      const fake = clientWith(sequence({ status: 503 }, { fail: "reset" }, ok({ regions: [] })))
      yield* Effect.gen(function* () {
        const fly = yield* FlyClient
        yield* fly.listRegions()
      }).pipe(Effect.provide(fake.layer))
      assert.strictEqual((yield* count("listRegions", "503")) - before503, 1)
      assert.strictEqual((yield* count("listRegions", "error")) - beforeError, 1)
      assert.strictEqual((yield* count("listRegions", "200")) - before200, 1)
    }),
  )
})

/** Lets real async work (the fake's Response bodies) progress without moving the test clock. */
const settle = Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, 5)))

const untilRequests = (requests: ReadonlyArray<RecordedRequest>, count: number) =>
  Effect.gen(function* () {
    for (let i = 0; i < 400 && requests.length < count; i++) yield* settle
    assert.isAtLeast(requests.length, count, `expected ${count} requests`)
  })
