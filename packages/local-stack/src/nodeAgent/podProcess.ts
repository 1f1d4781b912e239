import { type ChildProcess, spawn } from "node:child_process"
import { createWriteStream } from "node:fs"
import type { ResolvedContainer } from "./podSpecResolution.ts"

export interface ContainerState {
  readonly running: boolean
  readonly restartCount: number
  readonly startedAt: Date
  readonly lastExitCode?: number
}

/**
 * One container as a supervised host process: restarted with kubelet-like backoff (10s doubling to 5m is too slow
 * for tests, so 1s doubling to 10s) until stopped. State changes are reported for the Pod status.
 */
export class PodProcess {
  private child: ChildProcess | undefined
  private stopped = false
  private restartCount = 0
  private restartTimer: NodeJS.Timeout | undefined
  private readonly container: ResolvedContainer
  private readonly logFile: string
  private readonly onState: (state: ContainerState) => void

  constructor(container: ResolvedContainer, logFile: string, onState: (state: ContainerState) => void) {
    this.container = container
    this.logFile = logFile
    this.onState = onState
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
    child.stdout?.pipe(log)
    child.stderr?.pipe(log)
    const startedAt = new Date()
    this.onState({ running: true, restartCount: this.restartCount, startedAt })
    child.on("exit", (code) => {
      this.child = undefined
      if (this.stopped) return
      this.onState({ running: false, restartCount: this.restartCount, startedAt, lastExitCode: code ?? -1 })
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
