import * as dgram from "node:dgram"
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest"
import { eventually, type Harness, startHarness } from "./apiHarness.ts"
import { killChildren, startFrpc } from "./runtimeHelpers.ts"

/**
 * UDP as Fly delivers it, with real frps and frpc through the whole emulator: datagrams reach a
 * Machine only at its `fly-global-services` address, and only replies from that address come back.
 * An frps whose UDP proxy binds 0.0.0.0 (frp's default `proxyBindAddr`) therefore gets no UDP
 * through — its replies leave from the Machine's primary address — while one with
 * `proxyBindAddr = "fly-global-services"` does.
 */
const tools = inject("tools")
let harness: Harness
beforeAll(async () => {
  harness = await startHarness({ frpsPath: tools.frps, network: "namespace" })
})
afterEach(killChildren)
afterAll(() => harness.emulator.close())

const token = "udp-contract-token"
const frpsToml = (proxyBindAddr: string | undefined) => `
bindPort = 7000
${proxyBindAddr === undefined ? "" : `proxyBindAddr = "${proxyBindAddr}"`}
auth.token = "{{ .Envs.FRP_TOKEN }}"
allowPorts = [{ single = 5353 }]
log.disablePrintColor = true
`
const frpcToml = (serverAddr: string, localPort: number) => `
serverAddr = "${serverAddr}"
serverPort = 7000
loginFailExit = false
auth.token = "${token}"
log.disablePrintColor = true
[[proxies]]
name = "dns"
type = "udp"
localIP = "127.0.0.1"
localPort = ${localPort}
remotePort = 5353
`

/** A loopback UDP echo ("echo:<datagram>") that counts what it received. */
const startUdpEcho = async () => {
  const socket = dgram.createSocket("udp4")
  const received: Array<string> = []
  socket.on("message", (message, from) => {
    received.push(message.toString())
    socket.send(Buffer.concat([Buffer.from("echo:"), message]), from.port, from.address)
  })
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve))
  return { port: socket.address().port, received, close: () => socket.close() }
}

/** An App with an frps Machine (control port 7000/tcp, 5353/udp) behind a dedicated IPv4, and its frpc. */
const tunnel = async (proxyBindAddr: string | undefined) => {
  const app = harness.appName("udp")
  expect((await harness.call("POST", "/v1/apps", { name: app, org_slug: "personal" })).status).toBe(201)
  await harness.call("POST", `/v1/apps/${app}/secrets`, {
    values: { FRP_TOKEN: token, FRPS_TOML: Buffer.from(frpsToml(proxyBindAddr)).toString("base64") },
  })
  const ip = (await harness.call("POST", `/v1/apps/${app}/ip_assignments`, { type: "v4" })).body.ip as string
  const created = await harness.call("POST", `/v1/apps/${app}/machines`, {
    region: "iad",
    config: {
      image: "ghcr.io/fatedier/frps:v0.71.0",
      init: { cmd: ["-c", "/etc/frp/frps.toml"] },
      files: [{ guest_path: "/etc/frp/frps.toml", secret_name: "FRPS_TOML" }],
      restart: { policy: "always" },
      services: [
        { protocol: "tcp", internal_port: 7000, ports: [{ port: 7000 }] },
        { protocol: "udp", internal_port: 5353, ports: [{ port: 5353 }] },
      ],
    },
  })
  expect(created.status).toBe(200)
  await harness.call("GET", `/v1/apps/${app}/machines/${created.body.id}/wait?state=started`)
  const echo = await startUdpEcho()
  const frpc = startFrpc(tools.frpc, frpcToml(ip, echo.port))
  await eventually(async () => (frpc.log().includes("[dns] start proxy success") ? true : undefined), 60_000)
  const client = dgram.createSocket("udp4")
  const replies: Array<string> = []
  client.on("message", (message) => replies.push(message.toString()))
  const target = harness.emulator.publicAddress(ip, 5353)
  return {
    echo,
    replies,
    send: (text: string) => client.send(text, target.port, target.host),
    close: () => {
      client.close()
      echo.close()
    },
  }
}

const proxyStats = async () => (await harness.emulator.state()).proxy

describe("UDP through the Fly proxy with real frps and frpc", () => {
  it("an frps whose UDP proxy binds fly-global-services carries datagrams both ways", async () => {
    const udp = await tunnel("fly-global-services")
    // frps registers the UDP proxy a moment after frpc reports it: resend until the echo is back.
    const reply = await eventually(async () => {
      udp.send("query")
      await new Promise((resolve) => setTimeout(resolve, 200))
      return udp.replies[0]
    }, 60_000)
    expect(reply).toBe("echo:query")
    udp.close()
  })

  it("an frps whose UDP proxy binds 0.0.0.0 (the default) gets no UDP through: its replies are dropped", async () => {
    const udp = await tunnel(undefined)
    const before = await proxyStats()
    // The datagram reaches frps (bound to every address) and frpc's echo, so frps replies — from the
    // Machine's primary address, which the Fly proxy drops.
    await eventually(async () => {
      udp.send("query")
      await new Promise((resolve) => setTimeout(resolve, 200))
      return udp.echo.received.length > 0 ? true : undefined
    }, 60_000)
    await eventually(async () => ((await proxyStats()).udpRepliesDropped > before.udpRepliesDropped ? true : undefined))
    const after = await proxyStats()
    expect(after.udpRepliesForwarded).toBe(before.udpRepliesForwarded)
    expect(udp.replies).toEqual([])
    udp.close()
  })
})
