import { spawn } from "node:child_process"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"
import { reapOnExit, withParentDeath } from "../controlPlane/childReaper.ts"

const ECHO_SERVER = fileURLToPath(new URL("./echoServer.ts", import.meta.url))
const HTTP_ECHO_SERVER = fileURLToPath(new URL("./httpEchoServer.ts", import.meta.url))

export interface EchoBackend {
  readonly host: string
  readonly port: number
  readonly pid: number
  /** Connections it accepted so far. */
  connections(): number
  /** SIGTERM, then SIGKILL after two seconds; resolves once the process is gone. */
  stop(): Promise<void>
}

/**
 * Runs the echo server (echoServer.ts, or httpEchoServer.ts with `http`) on `host:port` with `exec` as command prefix — the service network's, to be
 * the backend of a Service whose ClusterIP is `host`; none to run on the host. Resolves once it listens.
 */
export const startEchoBackend = (options: {
  readonly host: string
  readonly port: number
  readonly exec?: ReadonlyArray<string>
  /** Serve HTTP instead (httpEchoServer.ts): every request answered with JSON naming `label` and what came in. */
  readonly http?: { readonly label: string }
}): Promise<EchoBackend> =>
  new Promise((resolve, reject) => {
    const server = [
      ...(options.http === undefined ? [ECHO_SERVER] : [HTTP_ECHO_SERVER]),
      options.host,
      String(options.port),
      ...(options.http === undefined ? [] : [options.http.label]),
    ]
    const [execCommand, ...execArgs] = options.exec ?? []
    const { command, args } =
      execCommand === undefined
        ? withParentDeath(process.execPath, server)
        : withParentDeath(execCommand, [...execArgs, process.execPath, ...server])
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] })
    reapOnExit(child)
    let stderr = ""
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr += chunk.toString()
    })
    const exited = new Promise<void>((done) => child.once("exit", () => done()))
    child.once("error", reject)
    child.once("exit", (code, signal) =>
      reject(new Error(`echo backend on ${options.host}:${options.port} exited (${signal ?? code}): ${stderr.trim()}`)),
    )
    let accepted = 0
    const lines = createInterface({ input: child.stdout })
    lines.on("line", (line) => {
      if (line === "accepted") accepted += 1
    })
    lines.once("line", (line) => {
      const port = Number(line.split(":").at(-1))
      resolve({
        connections: () => accepted,
        host: options.host,
        port,
        pid: child.pid ?? -1,
        stop: async () => {
          if (child.exitCode !== null || child.signalCode !== null) return
          const kill = setTimeout(() => child.kill("SIGKILL"), 2_000)
          child.kill("SIGTERM")
          await exited
          clearTimeout(kill)
        },
      })
    })
  })
