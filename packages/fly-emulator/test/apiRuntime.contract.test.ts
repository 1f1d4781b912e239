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
})
