import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest"
import { createApp, eventually, frpsMachine, type Harness, startedMachine, startHarness } from "./apiHarness.ts"

let harness: Harness
beforeAll(async () => {
  harness = await startHarness({ timings: { destroyedRetentionMs: 200 } })
})
beforeEach(() => harness.call("POST", "/_emulator/reset", {}, { authorization: null }))
afterAll(() => harness.emulator.close())

const control = (method: string, path: string, body?: unknown) =>
  harness.call(method, `/_emulator/${path}`, body, { authorization: null })

const callsOf = async (action: string) => (await harness.emulator.state()).calls.filter((c) => c.action === action)

describe("rate limits", () => {
  it("answers 429 with Retry-After once the bucket of an (action, app) is empty", async () => {
    const app = harness.appName()
    await createApp(harness, app)
    await control("POST", "rate-limits", { enabled: true })
    const responses = await Promise.all(Array.from({ length: 12 }, () => harness.call("GET", `/v1/apps/${app}`)))
    const limited = responses.filter((response) => response.status === 429)
    expect(limited.length).toBeGreaterThan(0)
    expect(limited[0]?.body).toEqual({ error: "rate limit exceeded" })
    expect(limited[0]?.headers.get("retry-after")).toBe("1")
    expect((await callsOf("getApp")).filter((c) => c.status === 429).every((c) => !c.applied)).toBe(true)
  })

  it("keeps separate buckets per app and per action, and can be tightened or turned off", async () => {
    const [first, second] = [harness.appName(), harness.appName()]
    await createApp(harness, first)
    await createApp(harness, second)
    expect(
      (await control("POST", "rate-limits", { enabled: true, rules: { getApp: { perSecond: 0.001, burst: 1 } } }))
        .status,
    ).toBe(204)
    expect((await harness.call("GET", `/v1/apps/${first}`)).status).toBe(200)
    expect((await harness.call("GET", `/v1/apps/${first}`)).status).toBe(429)
    expect((await harness.call("GET", `/v1/apps/${second}`)).status).toBe(200)
    expect((await harness.call("GET", `/v1/apps/${first}/machines`)).status).toBe(200)
    await control("POST", "rate-limits", { enabled: false })
    expect((await harness.call("GET", `/v1/apps/${first}`)).status).toBe(200)
  })
})

describe("fault injection", () => {
  it("answers an injected status for the next N calls without applying them", async () => {
    expect(
      (await control("POST", "faults", { action: "createApp", kind: "status", status: 503, count: 2 })).status,
    ).toBe(204)
    const name = harness.appName()
    const first = await harness.call("POST", "/v1/apps", { name, org_slug: "personal" })
    const second = await harness.call("POST", "/v1/apps", { name, org_slug: "personal" })
    const third = await harness.call("POST", "/v1/apps", { name, org_slug: "personal" })
    expect([first.status, second.status, third.status]).toEqual([503, 503, 201])
    expect(first.body.error).toEqual(expect.any(String))
    expect((await callsOf("createApp")).map((c) => [c.status, c.applied, c.fault ?? null])).toEqual([
      [503, false, "status"],
      [503, false, "status"],
      [201, true, null],
    ])
  })

  it("applies a change and answers 5xx anyway: the call log says it was applied", async () => {
    const name = harness.appName()
    expect((await harness.call("POST", "/v1/apps", { name, org_slug: "personal" })).status).toBe(201)
    await control("POST", "faults", { action: "createIpAssignment", kind: "status", status: 502, applied: true })
    const answered = await harness.call("POST", `/v1/apps/${name}/ip_assignments`, { type: "v4" })
    expect(answered.status).toBe(502)
    expect((await harness.call("GET", `/v1/apps/${name}/ip_assignments`)).body.ips).toHaveLength(1)
    expect((await callsOf("createIpAssignment")).map((c) => [c.status, c.applied, c.fault ?? null])).toEqual([
      [502, true, "status"],
    ])
  })

  it("with rate 1 fails every call until cleared", async () => {
    await harness.emulator.injectFault({ action: "listRegions", kind: "status", status: 500, rate: 1 })
    for (let i = 0; i < 3; i++) expect((await harness.call("GET", "/v1/platform/regions")).status).toBe(500)
    await harness.emulator.clearFaults()
    expect((await harness.call("GET", "/v1/platform/regions")).status).toBe(200)
  })

  it("loses the response of an applied create: the socket closes, the app exists", async () => {
    await control("POST", "faults", { action: "createApp", kind: "lostResponse" })
    const name = harness.appName()
    await expect(harness.call("POST", "/v1/apps", { name, org_slug: "personal" })).rejects.toThrow()
    expect((await harness.call("GET", `/v1/apps/${name}`)).status).toBe(200)
    expect(await callsOf("createApp")).toMatchObject([
      { action: "createApp", method: "POST", path: "/v1/apps", status: 201, applied: true, fault: "lostResponse" },
    ])
  })

  it("loses the response of a machine create: exactly one machine exists", async () => {
    const app = harness.appName()
    await createApp(harness, app)
    await harness.emulator.injectFault({ action: "createMachine", kind: "lostResponse" })
    await expect(
      harness.call("POST", `/v1/apps/${app}/machines`, { config: { image: "frps" }, name: "frps-iad" }),
    ).rejects.toThrow()
    const listed = await harness.call("GET", `/v1/apps/${app}/machines`)
    expect(listed.body.map((m: { name: string }) => m.name)).toEqual(["frps-iad"])
  })

  it("aims a fault at the address creates of one IP type: others pass, the fault waits for its own", async () => {
    const app = harness.appName()
    await createApp(harness, app)
    expect(
      (await control("POST", "faults", { action: "createIpAssignment", kind: "lostResponse", ipType: "v6" })).status,
    ).toBe(204)
    expect((await harness.call("POST", `/v1/apps/${app}/ip_assignments`, { type: "v4" })).status).toBe(200)
    await expect(harness.call("POST", `/v1/apps/${app}/ip_assignments`, { type: "v6" })).rejects.toThrow()
    // Consumed: the next IPv6 create is answered.
    expect((await harness.call("POST", `/v1/apps/${app}/ip_assignments`, { type: "v6" })).status).toBe(200)
    expect((await callsOf("createIpAssignment")).map((c) => [c.ipType, c.status, c.applied, c.fault ?? null])).toEqual([
      ["v4", 200, true, null],
      ["v6", 200, true, "lostResponse"],
      ["v6", 200, true, null],
    ])
    const listed = await harness.call("GET", `/v1/apps/${app}/ip_assignments`)
    expect(listed.body.ips).toHaveLength(3)
  })

  it("aims a fault at the create of one Machine by name, and logs the name each create asked for", async () => {
    const app = harness.appName()
    await createApp(harness, app)
    await harness.emulator.injectFault({ action: "createMachine", kind: "status", status: 503, machineName: "frps-b" })
    const machine = (name: string) => harness.call("POST", `/v1/apps/${app}/machines`, frpsMachine({ name }))
    expect((await machine("frps-a")).status).toBe(200)
    expect((await machine("frps-b")).status).toBe(503)
    expect((await machine("frps-b")).status).toBe(200)
    expect((await callsOf("createMachine")).map((c) => [c.machineName, c.status, c.applied])).toEqual([
      ["frps-a", 200, true],
      ["frps-b", 503, false],
      ["frps-b", 200, true],
    ])
  })

  it("refuses a fault whose selector is not text", async () => {
    expect(
      (await control("POST", "faults", { action: "createIpAssignment", kind: "lostResponse", ipType: 6 })).status,
    ).toBe(400)
    expect((await harness.emulator.state()).faults).toEqual([])
  })

  it("holds a call then answers 408, applied or not as asked", async () => {
    await control("POST", "faults", [
      { action: "createApp", kind: "timeout", holdMs: 50 },
      { action: "createApp", kind: "timeout", holdMs: 50, applied: true },
    ])
    const [skipped, made] = [harness.appName(), harness.appName()]
    const first = await harness.call("POST", "/v1/apps", { name: skipped, org_slug: "personal" })
    const second = await harness.call("POST", "/v1/apps", { name: made, org_slug: "personal" })
    expect([first.status, second.status]).toEqual([408, 408])
    expect((await harness.call("GET", `/v1/apps/${skipped}`)).status).toBe(404)
    expect((await harness.call("GET", `/v1/apps/${made}`)).status).toBe(200)
  })

  it("hangs until the client gives up", async () => {
    await harness.emulator.injectFault({ action: "listRegions", kind: "timeout", hang: true })
    await expect(
      harness.call("GET", "/v1/platform/regions", undefined, { signal: AbortSignal.timeout(300) }),
    ).rejects.toThrow()
    expect(await callsOf("listRegions")).toMatchObject([{ status: 0, applied: false, fault: "timeout" }])
  })

  it("refuses a malformed fault", async () => {
    expect((await control("POST", "faults", { action: "nope", kind: "status", status: 500 })).status).toBe(400)
    expect((await control("POST", "faults", { action: "getApp", kind: "explode" })).status).toBe(400)
  })
})

describe("latency", () => {
  it("delays an action by at least its configured time", async () => {
    expect((await control("POST", "latency", { listRegions: { ms: 300, jitterMs: 10 } })).status).toBe(204)
    const started = Date.now()
    expect((await harness.call("GET", "/v1/platform/regions")).status).toBe(200)
    expect(Date.now() - started).toBeGreaterThanOrEqual(300)
    expect((await harness.emulator.state()).latency).toEqual({ listRegions: { ms: 300, jitterMs: 10 } })
    await control("POST", "latency", { listRegions: null })
    expect((await harness.emulator.state()).latency).toEqual({})
  })
})

describe("inspection", () => {
  it("logs every API call with its action, app and machine, in order", async () => {
    const app = harness.appName()
    await createApp(harness, app)
    const machine = await startedMachine(harness, app)
    await harness.call("GET", `/v1/apps/${app}/machines/${machine.id}`)
    await harness.call("GET", "/v1/apps/x", undefined, { authorization: null })
    const state = (await control("GET", "state")).body
    expect(state.calls.map((c: { seq: number }) => c.seq)).toEqual([1, 2, 3, 4, 5])
    expect(state.calls.map((c: { action: string; status: number }) => `${c.action} ${c.status}`)).toEqual([
      "createApp 201",
      "createMachine 200",
      "waitMachine 200",
      "getMachine 200",
      "getApp 401",
    ])
    expect(state.calls[3]).toMatchObject({
      method: "GET",
      path: `/v1/apps/${app}/machines/${machine.id}`,
      applied: true,
      app,
      machineId: machine.id,
    })
    expect(Date.parse(state.calls[0].at)).not.toBeNaN()
    expect(state.apps.map((a: { name: string }) => a.name)).toEqual([app])
    expect(state.machines).toMatchObject([{ id: machine.id, app, state: "started" }])
  })

  it("shows secret values only when asked", async () => {
    const app = harness.appName()
    await createApp(harness, app)
    await harness.call("POST", `/v1/apps/${app}/secrets`, { values: { TOKEN: "hidden-value" } })
    expect(JSON.stringify((await control("GET", "state")).body)).not.toContain("hidden-value")
    expect((await control("GET", "state?show_secrets=true")).body.secrets).toMatchObject([
      { app, name: "TOKEN", value: "hidden-value" },
    ])
  })

  it("reset forgets apps, machines and calls", async () => {
    const app = harness.appName()
    await createApp(harness, app)
    await startedMachine(harness, app)
    expect((await control("POST", "reset")).status).toBe(204)
    const state = await harness.emulator.state()
    expect([state.apps, state.machines, state.calls]).toEqual([[], [], []])
    expect((await harness.call("GET", `/v1/apps/${app}`)).status).toBe(404)
  })
})

describe("destroyed machines", () => {
  it("are visible as destroyed for a while, then 404", async () => {
    const app = harness.appName()
    await createApp(harness, app)
    const machine = await startedMachine(harness, app)
    await harness.call("DELETE", `/v1/apps/${app}/machines/${machine.id}?force=true`)
    const gone = await eventually(async () => {
      const response = await harness.call("GET", `/v1/apps/${app}/machines/${machine.id}`)
      return response.status === 404 ? response : undefined
    })
    expect(gone.body).toEqual({ error: "machine not found" })
    const seen = (await callsOf("getMachine")).map((c) => c.status)
    expect(seen.at(-1)).toBe(404)
  })
})
