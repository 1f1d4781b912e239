import { type ChildProcess, spawn } from "node:child_process"
import { createWriteStream } from "node:fs"
import type { ResolvedContainer } from "./podSpecResolution.ts"

export interface ContainerState {
  readonly running: boolean
  readonly restartCount: number
  readonly startedAt: Date
  readonly lastExitCode?: number
  /** Exited for good (the Pod's restartPolicy says no restart): the Pod Succeeded (code 0) or Failed. */
  readonly finishedAt?: Date
}

const RESTART_POLICIES = ["Always", "OnFailure", "Never"] as const

/** The Pod's `restartPolicy`: Always (Deployments), OnFailure or Never (Jobs). */
export type RestartPolicy = (typeof RESTART_POLICIES)[number]

/** A Pod spec's `restartPolicy` (the API server admits only these three), Always when unset as the API defaults it. */
export const restartPolicyOf = (value: string | undefined): RestartPolicy =>
  RESTART_POLICIES.find((policy) => policy === value) ?? "Always"

/**
 * One container as a supervised host process: restarted as its Pod's restartPolicy says, with kubelet-like backoff
 * (10s doubling to 5m is too slow for tests, so 1s doubling to 10s), until stopped. State changes are reported for
 * the Pod status.
 */
export class PodProcess {
  private child: ChildProcess | undefined
  private stopped = false
  private restartCount = 0
  private restartTimer: NodeJS.Timeout | undefined
  private readonly container: ResolvedContainer
  private readonly logFile: string
  private readonly onState: (state: ContainerState) => void
  private readonly restartPolicy: RestartPolicy

  constructor(
    container: ResolvedContainer,
    logFile: string,
    onState: (state: ContainerState) => void,
    restartPolicy: RestartPolicy = "Always",
  ) {
    this.container = container
    this.logFile = logFile
    this.onState = onState
    this.restartPolicy = restartPolicy
    this.start()
  }

  private start(): void {
    const [binary, ...args] = this.container.command
    if (binary === undefined) return
    const log = createWriteStream(this.logFile, { flags: "a" })
    const child = spawn(binary, args, {
      env: { PATH: process.env.PATH ?? "", ...this.container.env },
      stdio: ["ignore", "pipe", "pipe"],
    })
    this.child = child
    // Two sources into one file: neither may end it; it ends once both are closed.
    child.stdout?.pipe(log, { end: false })
    child.stderr?.pipe(log, { end: false })
    child.once("close", () => log.end())
    const startedAt = new Date()
    this.onState({ running: true, restartCount: this.restartCount, startedAt })
    child.on("exit", (code) => {
      this.child = undefined
      if (this.stopped) return
      const exitCode = code ?? -1
      if (this.restartPolicy === "Never" || (this.restartPolicy === "OnFailure" && exitCode === 0)) {
        this.stopped = true
        const finishedAt = new Date()
        // Reported once the output is in the log file, so whoever sees the Pod finished can read all of it.
        log.once("finish", () =>
          this.onState({
            running: false,
            restartCount: this.restartCount,
            startedAt,
            lastExitCode: exitCode,
            finishedAt,
          }),
        )
        return
      }
      this.onState({ running: false, restartCount: this.restartCount, startedAt, lastExitCode: exitCode })
      const delay = Math.min(10_000, 1_000 * 2 ** Math.min(this.restartCount, 4))
      this.restartCount += 1
      this.restartTimer = setTimeout(() => this.start(), delay)
    })
  }

  async stop(): Promise<void> {
    this.stopped = true
    clearTimeout(this.restartTimer)
    const child = this.child
    if (child === undefined || child.exitCode !== null) return
    await new Promise<void>((resolve) => {
      const kill = setTimeout(() => child.kill("SIGKILL"), 5_000)
      child.once("exit", () => {
        clearTimeout(kill)
        resolve()
      })
      child.kill("SIGTERM")
    })
  }
}
