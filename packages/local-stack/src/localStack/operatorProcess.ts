import { spawn } from "node:child_process"
import { operatorEntrypoint } from "@fly-tunnel-operator/operator"
import { Effect } from "effect"
import { reapOnExit, withParentDeath } from "../controlPlane/childReaper.ts"
import { freeLoopbackPorts } from "../controlPlane/freePort.ts"

export interface OperatorProcessOptions {
  /** The operator's kubeconfig: a ServiceAccount's (see installOperatorRbac), not the admin's. */
  readonly kubeconfigPath: string
  readonly flyApiBaseUrl: string
  /** A file holding the Fly token; the token itself never goes on a command line or into the environment. */
  readonly flyApiTokenFile: string
  readonly operatorNamespace: string
  readonly flyOrg?: string
  readonly leaderElect?: boolean
  readonly logLevel?: "debug" | "info" | "warn" | "error"
  /** Other settings (`--help` of the operator lists them), e.g. `{ RESYNC_SECONDS: "30" }`. */
  readonly env?: Record<string, string>
  /** The program to run: the operator's main.ts by default; the bundle (dist/operator.mjs) works too. */
  readonly entry?: string
  /** Options for node itself, before the program (the image runs the bundle with `operatorNodeOptions`). */
  readonly nodeOptions?: ReadonlyArray<string>
  /** Arguments, e.g. `["sweep", "--dry-run"]` for a command instead of the operator. */
  readonly args?: ReadonlyArray<string>
  /** Receives every line the operator prints (JSON logs). */
  readonly log?: (line: string) => void
}

export interface OperatorProcess {
  readonly pid: number
  /** `http://127.0.0.1:<port>/metrics` */
  readonly metricsUrl: string
  /** `http://127.0.0.1:<port>` — `/healthz` and `/readyz` below it. */
  readonly healthUrl: string
  /** Every line printed so far (stdout and stderr). */
  readonly output: () => ReadonlyArray<string>
  /** Resolves with the exit code or signal once the process has ended. */
  readonly exited: Promise<string>
  readonly ended: () => boolean
  /** Graceful stop: SIGTERM, SIGKILL after `graceMs` (default 10 s). */
  stop(graceMs?: number): Promise<void>
  /** A crash: SIGKILL at once. */
  kill(): Promise<void>
  /** A freeze (a stalled node, a long GC pause): SIGSTOP; the process keeps its sockets but runs nothing. */
  freeze(): void
  /** SIGCONT after `freeze`: timers fire late, requests sent before the freeze may have landed meanwhile. */
  resume(): void
}

/** Runs the operator as its own process, the way the chart's Deployment runs it, with metrics and health on loopback. */
export const startOperatorProcess = async (options: OperatorProcessOptions): Promise<OperatorProcess> => {
  const [metricsPort, healthPort] = await Effect.runPromise(freeLoopbackPorts(2))
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "",
    KUBECONFIG: options.kubeconfigPath,
    FLY_API_BASE_URL: options.flyApiBaseUrl,
    FLY_API_TOKEN_FILE: options.flyApiTokenFile,
    FLY_ORG: options.flyOrg ?? "personal",
    OPERATOR_NAMESPACE: options.operatorNamespace,
    METRICS_ADDR: `127.0.0.1:${metricsPort}`,
    HEALTH_ADDR: `127.0.0.1:${healthPort}`,
    LEADER_ELECT: String(options.leaderElect ?? true),
    LOG_LEVEL: options.logLevel ?? "info",
    ...options.env,
  }
  const { command, args } = withParentDeath(process.execPath, [
    ...(options.nodeOptions ?? []),
    options.entry ?? operatorEntrypoint,
    ...(options.args ?? []),
  ])
  const child = spawn(command, args, { env, stdio: ["ignore", "pipe", "pipe"] })
  reapOnExit(child)
  const lines: Array<string> = []
  let partial = ""
  const onData = (chunk: Buffer) => {
    const text = partial + chunk.toString()
    const parts = text.split("\n")
    partial = parts.pop() ?? ""
    for (const line of parts) {
      lines.push(line)
      options.log?.(line)
    }
  }
  child.stdout?.on("data", onData)
  child.stderr?.on("data", onData)
  const exited = new Promise<string>((resolve) =>
    child.once("exit", (code, signal) => resolve(signal ?? `code ${code}`)),
  )
  await new Promise<void>((resolve, reject) => {
    child.once("spawn", resolve)
    child.once("error", reject)
  })
  const ended = () => child.exitCode !== null || child.signalCode !== null
  return {
    pid: child.pid ?? -1,
    metricsUrl: `http://127.0.0.1:${metricsPort}/metrics`,
    healthUrl: `http://127.0.0.1:${healthPort}`,
    output: () => [...lines],
    exited,
    ended,
    stop: async (graceMs = 10_000) => {
      if (ended()) return
      const kill = setTimeout(() => child.kill("SIGKILL"), graceMs)
      child.kill("SIGTERM")
      await exited
      clearTimeout(kill)
    },
    kill: async () => {
      if (ended()) return
      child.kill("SIGKILL")
      await exited
    },
    freeze: () => {
      child.kill("SIGSTOP")
    },
    resume: () => {
      child.kill("SIGCONT")
    },
  }
}
