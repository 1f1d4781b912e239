import * as net from "node:net"
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest"
import { eventually, type Harness, startHarness } from "./apiHarness.ts"

/**
 * The API wired to the real machine host: an frps machine created over HTTP runs as a process, the
 * app's dedicated IPv4 answers on frps's bind port through the Fly proxy.
 */
const tools = inject("tools")
let harness: Harness
beforeAll(async () => {
  harness = await startHarness({ frpsPath: tools.frps, network: "auto" })
})
afterAll(() => harness.emulator.close())

const frpsToml = `
bindPort = 7000
auth.token = "{{ .Envs.FRP_TOKEN }}"
log.disablePrintColor = true
`

/**
 * Whether a connection to host:port opens and stays open a while: frps waits for a login, while
 * the proxy closes at once when no machine is behind the address.
 */
const accepts = (host: string, port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = net.connect({ host, port })
    let connected = false
    socket.on("connect", () => {
      connected = true
    })
    socket.setTimeout(1500, () => {
      socket.destroy()
      resolve(connected)
    })
    socket.on("close", () => resolve(false))
    socket.on("error", () => resolve(false))
  })

describe("API with the machine runtime and the Fly proxy", () => {
  it("boots frps from the machine config and routes the public IPv4 to it", async () => {
    const app = harness.appName("rt")
    expect((await harness.call("POST", "/v1/apps", { name: app, org_slug: "personal" })).status).toBe(201)
    await harness.call("POST", `/v1/apps/${app}/secrets`, {
      values: { FRP_TOKEN: "runtime-token", FRPS_TOML: Buffer.from(frpsToml).toString("base64") },
    })
    const ip = (await harness.call("POST", `/v1/apps/${app}/ip_assignments`, { type: "v4" })).body.ip
    const created = await harness.call("POST", `/v1/apps/${app}/machines`, {
      region: "iad",
      config: {
        image: "ghcr.io/fatedier/frps:v0.71.0",
        init: { cmd: ["-c", "/etc/frp/frps.toml"] },
        files: [{ guest_path: "/etc/frp/frps.toml", secret_name: "FRPS_TOML" }],
        restart: { policy: "always" },
        services: [{ protocol: "tcp", internal_port: 7000, ports: [{ port: 7000 }] }],
      },
    })
    expect(created.status).toBe(200)
    const waited = await harness.call("GET", `/v1/apps/${app}/machines/${created.body.id}/wait?state=started`)
    expect(waited.status).toBe(200)

    const address = harness.emulator.publicAddress(ip, 7000)
    await eventually(async () => ((await accepts(address.host, address.port)) ? true : undefined), 60_000)

    expect((await harness.call("DELETE", `/v1/apps/${app}`)).status).toBe(202)
  })

  it("reports service checks as the proxy's health checker sees them, and refuses marks", async () => {
    const app = harness.appName("rtchk")
    expect((await harness.call("POST", "/v1/apps", { name: app, org_slug: "personal" })).status).toBe(201)
    await harness.call("POST", `/v1/apps/${app}/secrets`, {
      values: { FRP_TOKEN: "runtime-token", FRPS_TOML: Buffer.from(frpsToml).toString("base64") },
    })
    const created = await harness.call("POST", `/v1/apps/${app}/machines`, {
      region: "iad",
      config: {
        image: "ghcr.io/fatedier/frps:v0.71.0",
        init: { cmd: ["-c", "/etc/frp/frps.toml"] },
        files: [{ guest_path: "/etc/frp/frps.toml", secret_name: "FRPS_TOML" }],
        services: [
          // frps listens on 7000; nothing listens on 7001.
          { protocol: "tcp", internal_port: 7000, ports: [{ port: 7000 }], checks: [{ type: "tcp", interval: "1s" }] },
          { protocol: "tcp", internal_port: 7001, ports: [{ port: 7001 }], checks: [{ type: "tcp", interval: "1s" }] },
        ],
      },
    })
    const path = `/v1/apps/${app}/machines/${created.body.id}`
    // Before the first probe, nothing is passing.
    const first = await harness.call("GET", path)
    expect(first.body.checks.map((check: { status: string }) => check.status)).toEqual(["critical", "critical"])
    const checks = await eventually(async () => {
      const machine = (await harness.call("GET", path)).body
      const byName = Object.fromEntries(
        machine.checks.map((check: { name: string; status: string; output: string }) => [check.name, check] as const),
      )
      return byName["servicecheck-00-tcp-7000"]?.status === "passing" ? byName : undefined
    }, 60_000)
    expect(checks["servicecheck-00-tcp-7000"]).toMatchObject({ status: "passing", output: "Success" })
    await eventually(async () => {
      const machine = (await harness.call("GET", path)).body
      const failing = machine.checks.find((check: { name: string }) => check.name === "servicecheck-01-tcp-7001")
      return failing?.output.includes("ECONNREFUSED") ? true : undefined
    })
    expect((await harness.call("GET", path)).body.checks[1].status).toBe("critical")

    await expect(harness.emulator.markChecks({ status: "passing" })).rejects.toThrow(/probed/)
    const refused = await fetch(`${harness.emulator.baseUrl}/_emulator/checks`, {
      method: "POST",
      body: JSON.stringify({ status: "passing" }),
    })
    expect(refused.status).toBe(409)
    expect((await harness.emulator.state()).checkMarks).toEqual([])

    // Stopped, the Machine passes nothing.
    await harness.call("POST", `${path}/stop`)
    await harness.call("GET", `${path}/wait?state=stopped&timeout=30`)
    expect((await harness.call("GET", path)).body.checks.map((check: { status: string }) => check.status)).toEqual([
      "critical",
      "critical",
    ])
  })

  it("a command the image lacks exits 127 and the Machine leaves started", async () => {
    const app = harness.appName("rt127")
    expect((await harness.call("POST", "/v1/apps", { name: app, org_slug: "personal" })).status).toBe(201)
    const created = await harness.call("POST", `/v1/apps/${app}/machines`, {
      region: "iad",
      config: {
        image: "ghcr.io/fatedier/frps:v0.71.0",
        init: { exec: ["/bin/sh", "-c", "true"] },
        restart: { policy: "no" },
      },
    })
    const path = `/v1/apps/${app}/machines/${created.body.id}`
    expect((await harness.call("GET", `${path}/wait?state=stopped&timeout=30`)).status).toBe(200)
    const machine = (await harness.call("GET", path)).body
    expect(machine.state).toBe("stopped")
    expect(machine.events.slice(0, 2)).toMatchObject([
      { type: "exit", status: "stopped", request: { exit_event: { exit_code: 127, requested_stop: false } } },
      { type: "start", status: "started" },
    ])
  })
})
