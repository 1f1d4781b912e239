import { type ChildProcess, execFile, spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import { mkdtempSync, writeFileSync } from "node:fs"
import { type AddressInfo, connect, createServer } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { promisify } from "node:util"
import { parse, stringify } from "smol-toml"
import { afterEach, describe, expect, inject, it } from "vitest"
import { escapeTemplate, frpcConfig, frpsConfig, renderFrpcToml, renderFrpsToml } from "../src/index.ts"

const tools = inject("tools")
const dir = mkdtempSync(join(tmpdir(), "frp-contract-"))
const poll = { timeout: 60_000, interval: 200 }
const token = randomBytes(24).toString("hex")

const freePort = () =>
  new Promise<number>((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo
      server.close(() => resolve(port))
    })
  })

const write = (name: string, text: string) => {
  const path = join(dir, `${randomBytes(4).toString("hex")}-${name}`)
  writeFileSync(path, text)
  return path
}

const verify = (binary: string, path: string) => promisify(execFile)(binary, ["verify", "-c", path])

interface Running {
  readonly process: ChildProcess
  readonly log: () => string
}
const running: Array<Running> = []
const start = (binary: string, path: string, env: Record<string, string>): Running => {
  const child = spawn(binary, ["-c", path], { env: { PATH: process.env.PATH ?? "", ...env } })
  let output = ""
  child.stdout.on("data", (chunk) => (output += chunk))
  child.stderr.on("data", (chunk) => (output += chunk))
  const handle = { process: child, log: () => output }
  running.push(handle)
  return handle
}
afterEach(() => {
  for (const handle of running.splice(0)) handle.process.kill("SIGKILL")
})

/** One echo round trip through `port`, or the error text. */
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

const startEchoServer = async () => {
  const server = createServer((socket) => socket.pipe(socket))
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  return { port: (server.address() as AddressInfo).port, close: () => server.close() }
}

/** A frps on loopback with our config, plus a matching frpc config. */
const tunnelOnLoopback = async (targetPort: number) => {
  const [bindPort, publicPort] = [await freePort(), await freePort()]
  const frps = renderFrpsToml(
    frpsConfig({
      bindPort,
      bindAddr: "127.0.0.1",
      proxyBindAddr: "127.0.0.1",
      ports: [{ port: publicPort, protocol: "TCP" }],
    }),
  )
  const frpc = frpcConfig({
    serverAddr: "127.0.0.1",
    serverPort: bindPort,
    localIP: "127.0.0.1",
    adminPort: await freePort(),
    ports: [{ name: "echo", protocol: "TCP", port: publicPort, targetPort }],
  })
  return { frpsPath: write("frps.toml", frps), frpc, publicPort }
}

describe("frp configs against the real binaries", () => {
  it("frps verify and frpc verify accept the rendered configs", async () => {
    const { frpsPath, frpc } = await tunnelOnLoopback(80)
    await expect(verify(tools.frps, frpsPath)).resolves.toMatchObject({
      stdout: expect.stringContaining("syntax is ok"),
    })
    const frpcPath = write("frpc.toml", renderFrpcToml(frpc))
    await expect(verify(tools.frpc, frpcPath)).resolves.toMatchObject({
      stdout: expect.stringContaining("syntax is ok"),
    })
  })

  it("escaped template syntax renders; unescaped template syntax would break the file", async () => {
    const base = (localIP: string) =>
      frpcConfig({
        serverAddr: "127.0.0.1",
        serverPort: 7000,
        localIP,
        ports: [{ name: "a", protocol: "TCP", port: 1, targetPort: 1 }],
      })
    const hostile = "{{ if"
    await expect(verify(tools.frpc, write("escaped.toml", renderFrpcToml(base(hostile))))).resolves.toBeDefined()
    const unescaped = parse(renderFrpcToml(base("x"))) as { proxies: Array<Record<string, unknown>> }
    unescaped.proxies[0] = { ...unescaped.proxies[0], localIP: hostile }
    await expect(verify(tools.frpc, write("unescaped.toml", stringify(unescaped)))).rejects.toThrow()
    expect(escapeTemplate(hostile)).not.toBe(hostile)
  })

  it("carries bytes from the public port to the target over TLS with the token", async () => {
    const target = await startEchoServer()
    const { frpsPath, frpc, publicPort } = await tunnelOnLoopback(target.port)
    const server = start(tools.frps, frpsPath, { FRP_TOKEN: token })
    const client = start(tools.frpc, write("frpc.toml", renderFrpcToml(frpc)), { FRP_TOKEN: token, POD_NAME: "frpc-0" })
    await expect.poll(() => echo(publicPort, "hello through frp"), poll).toBe("hello through frp")
    // frps names each replica's proxy <POD_NAME>.<port name>.
    expect(server.log()).toContain("frpc-0.echo")
    expect(client.log()).not.toContain(token)
    target.close()
  })

  it("refuses a client with the wrong token", async () => {
    const target = await startEchoServer()
    const { frpsPath, frpc, publicPort } = await tunnelOnLoopback(target.port)
    const server = start(tools.frps, frpsPath, { FRP_TOKEN: token })
    const client = start(tools.frpc, write("frpc.toml", renderFrpcToml(frpc)), {
      FRP_TOKEN: "wrong",
      POD_NAME: "frpc-0",
    })
    await expect.poll(() => server.log(), poll).toContain("token in login doesn't match")
    await expect.poll(() => client.log(), poll).toContain("token in login doesn't match")
    expect(await echo(publicPort, "x")).not.toBe("x")
    target.close()
  })

  it("refuses a client without TLS", async () => {
    const target = await startEchoServer()
    const { frpsPath, frpc, publicPort } = await tunnelOnLoopback(target.port)
    const server = start(tools.frps, frpsPath, { FRP_TOKEN: token })
    const plain = { ...frpc, transport: { ...frpc.transport, tls: { enable: false } } }
    start(tools.frpc, write("frpc.toml", stringify(plain)), { FRP_TOKEN: token, POD_NAME: "frpc-0" })
    await expect.poll(() => server.log(), poll).toContain("non-TLS connection received on a TlsOnly server")
    expect(await echo(publicPort, "x")).not.toBe("x")
    target.close()
  })
})
