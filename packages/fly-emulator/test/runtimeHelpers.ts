import { type ChildProcess, spawn } from "node:child_process"
import { mkdtempSync, writeFileSync } from "node:fs"
import * as net from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { expect } from "vitest"

/** Test-side helpers for runtime and proxy tests: real frpc, echo servers, polling. */

export const base64 = (text: string) => Buffer.from(text).toString("base64")

/** Polls `probe` until it returns a value (not undefined), failing after a generous timeout. */
export const eventually = async <A>(probe: () => Promise<A | undefined> | A | undefined, timeoutMs = 60_000) => {
  const deadline = Date.now() + timeoutMs
  let last: A | undefined
  while (Date.now() < deadline) {
    last = await probe()
    if (last !== undefined) return last
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
  throw new Error(`condition not met within ${timeoutMs} ms`)
}

const children: Array<ChildProcess> = []
export const killChildren = () => {
  for (const child of children.splice(0)) child.kill("SIGKILL")
}

/** Runs a real frpc with `toml` as its config; `log()` returns its output so far. */
export const startFrpc = (frpc: string, toml: string) => {
  const dir = mkdtempSync(join(tmpdir(), "fly-emulator-frpc-"))
  const path = join(dir, "frpc.toml")
  writeFileSync(path, toml)
  const child = spawn(frpc, ["-c", path], { stdio: ["ignore", "pipe", "pipe"] })
  children.push(child)
  let output = ""
  child.stdout.on("data", (chunk) => (output += chunk))
  child.stderr.on("data", (chunk) => (output += chunk))
  return { log: () => output, stop: () => child.kill("SIGKILL") }
}

/** A loopback TCP server that records what each connection sent first and echoes everything. */
export const startEchoServer = async () => {
  const firstChunks: Array<Buffer> = []
  const server = net.createServer((socket) => {
    let first = true
    socket.on("data", (chunk) => {
      if (first) firstChunks.push(chunk)
      first = false
      socket.write(chunk)
    })
    socket.on("error", () => {})
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  return {
    port: (server.address() as net.AddressInfo).port,
    firstChunks,
    close: () => server.close(),
  }
}

/** Sends `payload` and collects the reply until `expected` bytes arrived (or the error text). */
export const roundTrip = (host: string, port: number, payload: Buffer | string, expected: number) =>
  new Promise<string>((resolve) => {
    const socket = net.connect({ host, port })
    let received = Buffer.alloc(0)
    socket.setTimeout(10_000, () => socket.destroy())
    socket.on("connect", () => socket.write(payload))
    socket.on("data", (chunk) => {
      received = Buffer.concat([received, chunk])
      if (received.length >= expected) socket.end()
    })
    socket.on("close", () => resolve(received.toString()))
    socket.on("error", (error) => resolve(`error: ${error.message}`))
  })

/** Retries an echo round trip until it comes back whole (frpc needs a moment to register). */
export const echoesThrough = (host: string, port: number, payload: string) =>
  eventually(async () => {
    const reply = await roundTrip(host, port, payload, payload.length)
    return reply === payload ? reply : undefined
  })

export const expectNoSecret = (text: string, secret: string) => expect(text.includes(secret)).toBe(false)
