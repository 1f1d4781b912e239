// The operator's certificates in frp's own configs, against the real frps and frpc: they authenticate each other,
// a plain TCP relay between them changes nothing, and a relay that terminates TLS with its own certificate is refused
// by frpc (and by the operator's own check, which dials as frpc does), so no byte reaches the backend.
import { type ChildProcess, spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import { mkdtempSync, writeFileSync } from "node:fs"
import { type AddressInfo, connect, createServer, type Server } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as tls from "node:tls"
import { frpcConfig, frpsConfig, renderFrpcToml, renderFrpsToml } from "@fly-tunnel-operator/frp"
import { afterEach, describe, expect, inject, it } from "vitest"
import { issueCertificateAuthority, issueLeaf, type KeyPairPem } from "../src/pki/x509.ts"
import { dialAsFrpc } from "../src/tunnel/frpsDialer.ts"

const tools = inject("tools")
const dir = mkdtempSync(join(tmpdir(), "frp-tls-contract-"))
const poll = { timeout: 30_000, interval: 200 }
const token = randomBytes(24).toString("hex")
const DAY = 24 * 60 * 60 * 1000
const SERVER_NAME = "0f5a2c7e.frps.fly-tunnel-operator.invalid"

const write = (name: string, text: string) => {
  const path = join(dir, `${randomBytes(4).toString("hex")}-${name}`)
  writeFileSync(path, text)
  return path
}

const freePort = () =>
  new Promise<number>((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo
      server.close(() => resolve(port))
    })
  })

const cleanups: Array<() => void> = []
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup()
})
const listen = async (server: Server) => {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  cleanups.push(() => server.close())
  return (server.address() as AddressInfo).port
}

const start = (binary: string, path: string, env: Record<string, string>) => {
  const child: ChildProcess = spawn(binary, ["-c", path], { env: { PATH: process.env.PATH ?? "", ...env } })
  let output = ""
  child.stdout?.on("data", (chunk) => (output += chunk))
  child.stderr?.on("data", (chunk) => (output += chunk))
  cleanups.push(() => child.kill("SIGKILL"))
  return { log: () => output }
}

/** An echo server that counts the connections it accepted: the backend. */
const startBackend = async () => {
  let connections = 0
  const server = createServer((socket) => {
    connections += 1
    socket.pipe(socket)
  })
  return { port: await listen(server), connections: () => connections }
}

const echo = (port: number, payload: string) =>
  new Promise<string>((resolve) => {
    const socket = connect(port, "127.0.0.1")
    let received = ""
    socket.setTimeout(2_000, () => socket.destroy())
    socket.on("connect", () => socket.write(payload))
    socket.on("data", (chunk) => {
      received += chunk
      if (received.length >= payload.length) socket.end()
    })
    socket.on("close", () => resolve(received))
    socket.on("error", (error) => resolve(`error: ${error.message}`))
  })

/** The operator's CA and a tunnel's two leaves, as the operator issues them. */
const pki = async () => {
  const now = Date.now()
  const ca = await issueCertificateAuthority("test CA", new Date(now - DAY), new Date(now + 3650 * DAY))
  const validity = { notBefore: new Date(now - DAY), notAfter: new Date(now + 90 * DAY) }
  const server = await issueLeaf(ca, { commonName: "frps", usage: "server", dnsNames: [SERVER_NAME], ...validity })
  const client = await issueLeaf(ca, { commonName: "frpc", usage: "client", dnsNames: [], ...validity })
  return { ca, server, client, validity }
}

const files = (pair: KeyPairPem, name: string) => ({
  certFile: write(`${name}.crt`, pair.certPem),
  keyFile: write(`${name}.key`, pair.keyPem),
})

/** frps with the operator's certificates on loopback; returns its control and public ports. */
const startFrps = async (certificates: Awaited<ReturnType<typeof pki>>) => {
  const [bindPort, publicPort] = [await freePort(), await freePort()]
  const config = frpsConfig({
    bindPort,
    bindAddr: "127.0.0.1",
    proxyBindAddr: "127.0.0.1",
    ports: [{ port: publicPort, protocol: "TCP" }],
    tls: { ...files(certificates.server, "frps"), trustedCaFile: write("ca.crt", certificates.ca.certPem) },
  })
  const frps = start(tools.frps, write("frps.toml", renderFrpsToml(config)), { FRP_TOKEN: token })
  return { bindPort, publicPort, frps }
}

/** frpc dialling `serverPort` with the operator's trust and its client pair (or `client` instead; null: none). */
const startFrpc = (
  certificates: Awaited<ReturnType<typeof pki>>,
  serverPort: number,
  publicPort: number,
  targetPort: number,
  client: KeyPairPem | null = certificates.client,
) => {
  const config = frpcConfig({
    serverAddr: "127.0.0.1",
    serverPort,
    localIP: "127.0.0.1",
    ports: [{ name: "echo", protocol: "TCP", port: publicPort, targetPort }],
    tls: {
      trustedCaFile: write("ca.crt", certificates.ca.certPem),
      serverName: SERVER_NAME,
      ...(client === null ? { certFile: "", keyFile: "" } : files(client, "frpc")),
    },
  })
  return start(tools.frpc, write("frpc.toml", renderFrpcToml(config)), { FRP_TOKEN: token, POD_NAME: "frpc-0" })
}

/** A plain TCP relay to `port`: what Fly's proxy (no handlers) is. */
const tcpRelay = (port: number) =>
  listen(
    createServer((inbound) => {
      const outbound = connect(port, "127.0.0.1")
      inbound.pipe(outbound).pipe(inbound)
      inbound.on("error", () => outbound.destroy())
      outbound.on("error", () => inbound.destroy())
    }),
  )

/** A man in the middle: terminates TLS with its own certificate and speaks TLS onwards to `port`. */
const tlsRelay = async (port: number, own: KeyPairPem) => {
  let connections = 0
  const server = tls.createServer({ cert: own.certPem, key: own.keyPem }, (inbound) => {
    const outbound = tls.connect({ host: "127.0.0.1", port, rejectUnauthorized: false })
    inbound.pipe(outbound).pipe(inbound)
    inbound.on("error", () => outbound.destroy())
    outbound.on("error", () => inbound.destroy())
  })
  server.on("connection", () => {
    connections += 1
  })
  return { port: await listen(server), connections: () => connections }
}

const asFrpc = (certificates: Awaited<ReturnType<typeof pki>>, port: number) => ({
  host: "127.0.0.1",
  port,
  servername: SERVER_NAME,
  ca: certificates.ca.certPem,
  cert: certificates.client.certPem,
  key: certificates.client.keyPem,
})

describe("the operator's certificates with the real frps and frpc", () => {
  it("frps and frpc authenticate each other and carry bytes, directly and through a plain TCP relay", async () => {
    const certificates = await pki()
    const backend = await startBackend()
    const { bindPort, publicPort } = await startFrps(certificates)
    const relay = await tcpRelay(bindPort)
    startFrpc(certificates, relay, publicPort, backend.port)
    await expect.poll(() => echo(publicPort, "verified both ways"), poll).toBe("verified both ways")
    expect(await dialAsFrpc(asFrpc(certificates, bindPort))).toBeUndefined()
    expect(await dialAsFrpc(asFrpc(certificates, relay))).toBeUndefined()
  })

  it("frpc refuses a relay that terminates TLS with its own certificate: no byte reaches the backend", async () => {
    const certificates = await pki()
    const backend = await startBackend()
    const { bindPort, publicPort, frps } = await startFrps(certificates)
    // Its own CA and a certificate for the very name frpc expects: only the issuer gives it away.
    const strangerCa = await issueCertificateAuthority(
      "intercepting proxy CA",
      certificates.validity.notBefore,
      certificates.validity.notAfter,
    )
    const stranger = await issueLeaf(strangerCa, {
      commonName: SERVER_NAME,
      usage: "server",
      dnsNames: [SERVER_NAME],
      ...certificates.validity,
    })
    const relay = await tlsRelay(bindPort, stranger)
    const frpc = startFrpc(certificates, relay.port, publicPort, backend.port)
    // frpc (TLS under its multiplexer) logs only that the session broke, again and again; it never logs in.
    await expect.poll(() => frpc.log().match(/connect to server error/g)?.length ?? 0, poll).toBeGreaterThan(2)
    expect(frpc.log()).not.toContain("login to server success")
    expect(relay.connections()).toBeGreaterThan(2)
    expect(frps.log()).not.toContain("client login info")
    expect(await echo(publicPort, "x")).not.toBe("x")
    expect(backend.connections()).toBe(0)
    // The operator's own check, dialling as frpc does, sees the same.
    expect(await dialAsFrpc(asFrpc(certificates, relay.port))).toBe(
      "the certificate does not verify (UNABLE_TO_VERIFY_LEAF_SIGNATURE)",
    )
  })

  it("frpc refuses a certificate of the same CA issued for another tunnel", async () => {
    const certificates = await pki()
    const backend = await startBackend()
    const { bindPort, publicPort } = await startFrps(certificates)
    const other = await issueLeaf(certificates.ca, {
      commonName: "frps",
      usage: "server",
      dnsNames: ["another-tunnel.frps.fly-tunnel-operator.invalid"],
      ...certificates.validity,
    })
    const relay = await tlsRelay(bindPort, other)
    const frpc = startFrpc(certificates, relay.port, publicPort, backend.port)
    await expect.poll(() => frpc.log().match(/connect to server error/g)?.length ?? 0, poll).toBeGreaterThan(2)
    expect(frpc.log()).not.toContain("login to server success")
    expect(await echo(publicPort, "x")).not.toBe("x")
    expect(backend.connections()).toBe(0)
    expect(await dialAsFrpc(asFrpc(certificates, relay.port))).toBe(
      "the certificate does not verify (ERR_TLS_CERT_ALTNAME_INVALID)",
    )
  })

  it("frps refuses a client with the right token but no certificate, or one from another CA", async () => {
    const certificates = await pki()
    const backend = await startBackend()
    const { bindPort, publicPort, frps } = await startFrps(certificates)
    const bare = startFrpc(certificates, bindPort, publicPort, backend.port, null)
    const foreign = await pki()
    const stranger = startFrpc(certificates, bindPort, publicPort, backend.port, foreign.client)
    // Both keep failing at the handshake; frps logs no login of either (it logs one for a client it accepts).
    for (const frpc of [bare, stranger]) {
      await expect.poll(() => frpc.log().match(/connect to server error/g)?.length ?? 0, poll).toBeGreaterThan(2)
      expect(frpc.log()).not.toContain("login to server success")
    }
    expect(frps.log()).not.toContain("client login info")
    expect(await echo(publicPort, "x")).not.toBe("x")
    expect(backend.connections()).toBe(0)
  })
})
