import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { createApp, type Harness, startedMachine, startHarness } from "./apiHarness.ts"

/**
 * The `checks` list on the in-memory host, which runs no processes: nothing is probed, so no check
 * passes until a test marks it — the list never claims what no probe saw.
 */
let harness: Harness
beforeAll(async () => {
  harness = await startHarness()
})
afterAll(() => harness.emulator.close())

const control = async (method: string, body?: unknown) => {
  const response = await fetch(`${harness.emulator.baseUrl}/_emulator/checks`, {
    method,
    headers: { "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })
  const answer = response.status === 204 ? undefined : ((await response.json()) as { error: string })
  return { status: response.status, body: answer }
}

/** Two services with checks (one without a port of its own) and one informational top-level check. */
const checkedMachine = {
  region: "iad",
  config: {
    image: "registry.example/frps:v0.71.0",
    services: [
      { protocol: "tcp", internal_port: 7000, ports: [{ port: 7000 }] },
      {
        protocol: "tcp",
        internal_port: 6000,
        ports: [{ port: 6000 }],
        checks: [{ type: "tcp", port: 6000, interval: "10s", timeout: "2s" }],
      },
      {
        protocol: "tcp",
        internal_port: 8080,
        ports: [{ port: 80 }],
        checks: [{ type: "http", path: "/healthz", interval: "10s" }],
      },
    ],
    checks: { "frps-bind": { type: "tcp", port: 7000, interval: "15s" } },
  },
}

type Check = { name: string; status: string; output: string; updated_at: string }
const checksOf = async (app: string, id: string): Promise<Record<string, Check>> => {
  const machine = (await harness.call("GET", `/v1/apps/${app}/machines/${id}`)).body
  return Object.fromEntries(machine.checks.map((check: Check) => [check.name, check]))
}

describe("machine checks on the in-memory host", () => {
  it("lists service checks as servicecheck-NN-type-port beside top-level checks, all critical until marked", async () => {
    const app = harness.appName()
    await createApp(harness, app)
    const machine = await startedMachine(harness, app, checkedMachine)
    const checks = await checksOf(app, machine.id)
    expect(Object.keys(checks).sort()).toEqual(["frps-bind", "servicecheck-00-tcp-6000", "servicecheck-01-http-8080"])
    for (const check of Object.values(checks)) {
      expect(check.status).toBe("critical")
      expect(check.output).toContain("no probe ran")
      expect(check.updated_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/)
    }
  })

  it("reports what a test marks, newest mark first, per app, Machine or check name, until cleared", async () => {
    const app = harness.appName()
    await createApp(harness, app)
    const machine = await startedMachine(harness, app, checkedMachine)
    const other = harness.appName()
    await createApp(harness, other)
    const untouched = await startedMachine(harness, other, checkedMachine)

    expect((await control("POST", { status: "passing", app, output: "frpc registered" })).status).toBe(204)
    await harness.emulator.markChecks({ status: "critical", machine_id: machine.id, name: "servicecheck-01-http-8080" })
    const marked = await checksOf(app, machine.id)
    expect(marked["servicecheck-00-tcp-6000"]).toMatchObject({ status: "passing", output: "frpc registered" })
    expect(marked["frps-bind"]?.status).toBe("passing")
    expect(marked["servicecheck-01-http-8080"]?.status).toBe("critical")
    expect(Object.values(await checksOf(other, untouched.id)).map((check) => check.status)).toEqual([
      "critical",
      "critical",
      "critical",
    ])
    expect((await harness.emulator.state()).checkMarks).toHaveLength(2)

    // A stopped Machine passes nothing, marked or not.
    await harness.call("POST", `/v1/apps/${app}/machines/${machine.id}/stop`)
    await harness.call("GET", `/v1/apps/${app}/machines/${machine.id}/wait?state=stopped&timeout=10`)
    expect(Object.values(await checksOf(app, machine.id)).every((check) => check.status === "critical")).toBe(true)

    expect((await control("DELETE")).status).toBe(204)
    await harness.call("POST", `/v1/apps/${app}/machines/${machine.id}/start`)
    await harness.call("GET", `/v1/apps/${app}/machines/${machine.id}/wait?state=started&timeout=10`)
    expect(Object.values(await checksOf(app, machine.id)).every((check) => check.status === "critical")).toBe(true)
  })

  it("a mark made before a Machine exists applies to it too", async () => {
    const app = harness.appName()
    await createApp(harness, app)
    await harness.emulator.markChecks({ status: "passing", app })
    const machine = await startedMachine(harness, app, checkedMachine)
    expect(Object.values(await checksOf(app, machine.id)).every((check) => check.status === "passing")).toBe(true)
    await harness.emulator.clearCheckMarks()
  })

  it("refuses a malformed mark and changes nothing", async () => {
    const before = (await harness.emulator.state()).checkMarks
    const bad = await control("POST", { status: "green" })
    expect(bad.status).toBe(400)
    expect(bad.body?.error).toContain("status")
    expect((await harness.emulator.state()).checkMarks).toEqual(before)
  })
})
