import { execFileSync, spawn, spawnSync } from "node:child_process"
import * as net from "node:net"

/** Test-side helpers for the network tests: host state snapshots and tiny socket programs. */

export const namespaces = (): Array<string> =>
  execFileSync("ip", ["netns", "list"], { encoding: "utf8" })
    .split("\n")
    .map((line) => line.split(" ")[0] ?? "")
    .filter((name) => name !== "")

export const hostLinks = (): string => execFileSync("ip", ["-o", "link"], { encoding: "utf8" })
export const hostRoutes = (): string =>
  execFileSync("ip", ["route"], { encoding: "utf8" }) + execFileSync("ip", ["-6", "route"], { encoding: "utf8" })

/** Reads one line from a TCP server, or the error text. */
export const readGreeting = (host: string, port: number) =>
  new Promise<string>((resolve) => {
    const socket = net.connect({ host, port })
    let text = ""
    socket.setTimeout(10_000, () => socket.destroy(new Error("timeout")))
    socket.on("data", (chunk) => (text += chunk))
    socket.on("close", () => resolve(text))
    socket.on("error", (error) => resolve(`error: ${error.message}`))
  })

/** Starts a node program that greets every TCP connection on 0.0.0.0:port, under a command prefix. */
export const greeter = (run: ReadonlyArray<string>, port: number, greeting: string) => {
  const program = `require("net").createServer((s) => { s.on("error", () => {}); s.end(${JSON.stringify(greeting)}) }).listen(${port}, "0.0.0.0", () => console.log("ready"))`
  const [command, ...args] = [...run, process.execPath, "-e", program]
  const child = spawn(command as string, args, { stdio: ["ignore", "pipe", "inherit"] })
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout.once("data", () => resolve())
    child.once("exit", (code) => reject(new Error(`greeter exited with ${code}`)))
  })
  return { ready, stop: () => child.kill("SIGKILL") }
}

/** A pid that is certainly not running: a child that has already exited. */
export const deadPid = (): number => {
  const child = spawnSync("true")
  return child.pid
}

/**
 * Starts a TCP echo on 0.0.0.0:port and a UDP echo (replies "echo:<datagram>") on udpAddress:port,
 * under a command prefix. On Fly a UDP service must bind fly-global-services; 0.0.0.0 replies from
 * the wrong address.
 */
export const echoIn = (run: ReadonlyArray<string>, port: number, udpAddress = "0.0.0.0") => {
  const program = `
    const net = require("net"), dgram = require("dgram")
    net.createServer((s) => { s.on("error", () => {}); s.pipe(s) }).listen(${port}, "0.0.0.0", () => {
      const u = dgram.createSocket("udp4")
      u.on("message", (m, r) => u.send(Buffer.concat([Buffer.from("echo:"), m]), r.port, r.address))
      u.bind(${port}, ${JSON.stringify(udpAddress)}, () => console.log("ready"))
    })`
  const [command, ...args] = [...run, process.execPath, "-e", program]
  const child = spawn(command as string, args, { stdio: ["ignore", "pipe", "inherit"] })
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout.once("data", () => resolve())
    child.once("exit", (code) => reject(new Error(`echo exited with ${code}`)))
  })
  return { ready, stop: () => child.kill("SIGKILL") }
}

/**
 * On each of a machine's two addresses, a UDP socket on `port` that answers "<which>:<datagram>",
 * and a TCP server on the primary address only that answers "tcp on <which>" — to see which
 * address the Fly proxy delivers each protocol to.
 */
export const addressEchoIn = (
  run: ReadonlyArray<string>,
  port: number,
  addresses: { readonly primary: string; readonly globalServices: string },
) => {
  const program = `
    const net = require("net"), dgram = require("dgram")
    const udp = (address, which) => new Promise((resolve) => {
      const u = dgram.createSocket("udp4")
      u.on("message", (m, r) => u.send(Buffer.concat([Buffer.from(which + ":"), m]), r.port, r.address))
      u.bind(${port}, address, resolve)
    })
    Promise.all([udp(${JSON.stringify(addresses.primary)}, "primary"), udp(${JSON.stringify(addresses.globalServices)}, "global")])
      .then(() => net.createServer((s) => { s.on("error", () => {}); s.end("tcp on primary") })
        .listen(${port}, ${JSON.stringify(addresses.primary)}, () => console.log("ready")))`
  const [command, ...args] = [...run, process.execPath, "-e", program]
  const child = spawn(command as string, args, { stdio: ["ignore", "pipe", "inherit"] })
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout.once("data", () => resolve())
    child.once("exit", (code) => reject(new Error(`address echo exited with ${code}`)))
  })
  return { ready, stop: () => child.kill("SIGKILL") }
}

/**
 * Starts a plain HTTP server on 0.0.0.0:port under a command prefix that answers every request with JSON naming
 * itself (`label`) and what it received (method, url, headers): what an App behind the edge's handlers sees.
 */
export const httpEchoIn = (run: ReadonlyArray<string>, port: number, label: string) => {
  const program = `
    require("http").createServer((q, s) => {
      s.writeHead(200, { "content-type": "application/json" })
      s.end(JSON.stringify({ label: ${JSON.stringify(label)}, method: q.method, url: q.url, headers: q.headers }))
    }).listen(${port}, "0.0.0.0", () => console.log("ready"))`
  const [command, ...args] = [...run, process.execPath, "-e", program]
  const child = spawn(command as string, args, { stdio: ["ignore", "pipe", "inherit"] })
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout.once("data", () => resolve())
    child.once("exit", (code) => reject(new Error(`http echo exited with ${code}`)))
  })
  return { ready, stop: () => child.kill("SIGKILL") }
}
