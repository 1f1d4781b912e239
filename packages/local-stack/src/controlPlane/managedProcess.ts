import { spawn } from "node:child_process"
import { createWriteStream } from "node:fs"
import { createInterface } from "node:readline"
import { Deferred, Effect } from "effect"
import { reapOnExit, withParentDeath } from "./childReaper.ts"
import { ControlPlaneError } from "./errors.ts"

export interface ProcessSpec {
  /** Short name used in logs and errors, e.g. "etcd". */
  readonly name: string
  readonly command: string
  readonly args: ReadonlyArray<string>
  /** Every line the process prints is appended here. */
  readonly logFile: string
  /** Also receives every line, prefixed with the process name. */
  readonly log?: ((line: string) => void) | undefined
  /** Time between SIGTERM and SIGKILL on release. */
  readonly stopGraceMs?: number
}

export interface ManagedProcess {
  readonly name: string
  readonly pid: number
  /** Fails when the process ends; never succeeds. Race it against readiness checks to fail fast. */
  readonly exited: Effect.Effect<never, ControlPlaneError>
  /** The last lines the process printed, for error messages. */
  readonly recentOutput: () => string
}

const RECENT_LINES = 40

/**
 * Runs a binary for the lifetime of the current scope: its output goes to a log file, and on
 * release it gets SIGTERM, then SIGKILL after a grace period, and is reaped.
 */
export const managedProcess = Effect.fnUntraced(function* (spec: ProcessSpec) {
  const exit = yield* Deferred.make<never, ControlPlaneError>()
  const recent: Array<string> = []

  const child = yield* Effect.acquireRelease(
    Effect.callback<ReturnType<typeof spawn>, ControlPlaneError>((resume) => {
      const { command, args } = withParentDeath(spec.command, spec.args)
      const child = spawn(command, args, {
        detached: false,
        stdio: ["ignore", "pipe", "pipe"],
      })
      reapOnExit(child)
      const logFile = createWriteStream(spec.logFile, { flags: "a" })
      for (const stream of [child.stdout, child.stderr]) {
        createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY }).on("line", (line) => {
          logFile.write(`${line}\n`)
          recent.push(line)
          if (recent.length > RECENT_LINES) recent.shift()
          spec.log?.(`[${spec.name}] ${line}`)
        })
      }
      child.once("spawn", () => resume(Effect.succeed(child)))
      child.once("error", (error) =>
        resume(
          Effect.fail(
            new ControlPlaneError({ message: `${spec.name}: cannot start ${spec.command}: ${error.message}` }),
          ),
        ),
      )
      child.once("exit", (code, signal) => {
        logFile.end()
        Deferred.doneUnsafe(
          exit,
          Effect.fail(
            new ControlPlaneError({
              message: `${spec.name} exited (${signal ?? `code ${code}`}); last output:\n${recent.join("\n")}`,
            }),
          ),
        )
      })
    }),
    (child) =>
      Effect.gen(function* () {
        if (child.exitCode !== null || child.signalCode !== null) return
        child.kill("SIGTERM")
        const stopped = yield* Deferred.await(exit).pipe(Effect.ignore, Effect.timeoutOption(spec.stopGraceMs ?? 5_000))
        if (stopped._tag === "None") {
          child.kill("SIGKILL")
          yield* Deferred.await(exit).pipe(Effect.ignore)
        }
      }),
  )

  return {
    name: spec.name,
    pid: child.pid ?? -1,
    exited: Deferred.await(exit),
    recentOutput: () => recent.join("\n"),
  } satisfies ManagedProcess
})
