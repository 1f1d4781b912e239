import { type ChildProcess, spawn } from "node:child_process"
import { createWriteStream, existsSync } from "node:fs"
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises"
import { constants, tmpdir } from "node:os"
import { join } from "node:path"
import { Context, Effect, Layer, Schema } from "effect"
import type { MachineAddress } from "../network/emulatorNetwork.ts"
import { goDurationMs } from "./goDuration.ts"
import { canChroot, prepareGuestRoot } from "./guestRoot.ts"
import { knownImage, type RuntimeBinaries } from "./knownImages.ts"
import { guestCommand, resolveProgram, rewriteGuestPaths } from "./machineCommand.ts"
import { RuntimeConfig } from "./machineConfigParts.ts"
import { type MachineIdentity, machineEnv } from "./machineEnv.ts"
import { materializeFiles } from "./machineFiles.ts"
import { RuntimeError } from "./runtimeError.ts"

/** One boot of one machine version. */
export interface MachineLaunch extends MachineIdentity {
  /** The machine config as the API stores it; the runtime reads `files`, `init` and `stop_config`. */
  readonly config: Readonly<Record<string, unknown>>
  /** `config.env` merged with the app secrets. */
  readonly env: Readonly<Record<string, string>>
  /** App secrets by name, for `config.files[].secret_name`. */
  readonly secrets: Readonly<Record<string, string>>
  /** Where the machine lives (from EmulatorNetwork.allocateMachineAddress). */
  readonly place: MachineAddress
}

export interface MachineExit {
  readonly exitCode: number
  readonly signal?: string
}

export interface StopOptions {
  /** Default: `config.stop_config.signal`, else SIGINT (Fly's default). */
  readonly signal?: string | undefined
  /** Before SIGKILL. Default: `config.stop_config.timeout`, else 5 s. */
  readonly timeoutMs?: number | undefined
}

export interface RuntimeOptions {
  readonly binaries: RuntimeBinaries
  /** Per-machine roots and logs go here; default a fresh temporary directory removed on close. */
  readonly stateDir?: string
  /** Boot machines chrooted into their root (default: when running as root). */
  readonly chroot?: boolean
}

interface Running {
  readonly child: ChildProcess
  readonly exited: Promise<void>
  readonly stopSignal: string
  readonly stopTimeoutMs: number
  stopping: boolean
}

/** The command prefix that makes the kernel kill a machine process if the emulator dies first. */
const parentDeathPrefix: ReadonlyArray<string> = existsSync("/usr/bin/setpriv")
  ? ["/usr/bin/setpriv", "--pdeathsig", "KILL", "--"]
  : []

/**
 * Runs machines whose image it knows (frps) as real processes: the machine's files written under
 * a per-machine root, guest paths in the command rewritten to it, env with Fly's variables, output
 * captured in a per-machine log. Unknown images boot without a process.
 */
export class MachineRuntime extends Context.Service<
  MachineRuntime,
  {
    /** Boots a machine (replacing a process it may still have); `onExit` fires when it ends by itself. */
    readonly start: (launch: MachineLaunch, onExit: (exit: MachineExit) => void) => Effect.Effect<void, RuntimeError>
    /** Signals the process, then SIGKILL after the timeout; resolves once it is gone. `onExit` is not called. */
    readonly stop: (machineId: string, options?: StopOptions) => Effect.Effect<void>
    /** Whether the machine has a live process. */
    readonly isRunning: (machineId: string) => boolean
    /** Path of the machine's combined stdout/stderr log (kept across restarts). */
    readonly logFile: (machineId: string) => string
    /** The log's text so far ("" before the first boot). */
    readonly log: (machineId: string) => Effect.Effect<string>
  }
>()("@fly-tunnel-operator/fly-emulator/runtime/MachineRuntime") {
  static readonly layer = (options: RuntimeOptions) => Layer.effect(MachineRuntime, makeRuntime(options))
}

const makeRuntime = Effect.fnUntraced(function* (options: RuntimeOptions) {
  const stateDir =
    options.stateDir ??
    (yield* Effect.acquireRelease(
      Effect.promise(() => mkdtemp(join(tmpdir(), "fly-emulator-machines-"))),
      (dir) => Effect.promise(() => rm(dir, { recursive: true, force: true })),
    ))
  const running = new Map<string, Running>()
  // Under chroot guest paths are real paths, also inside config files; otherwise arguments are rewritten.
  const chroot = options.chroot ?? canChroot()
  const machineDir = (id: string) => join(stateDir, id)
  const logFile = (id: string) => join(machineDir(id), "machine.log")

  const stop = (machineId: string, stopOptions: StopOptions = {}): Effect.Effect<void> =>
    Effect.suspend(() => {
      const machine = running.get(machineId)
      if (!machine) return Effect.void
      machine.stopping = true
      const signal = (stopOptions.signal ?? machine.stopSignal) as NodeJS.Signals
      machine.child.kill(signal)
      const killLater = setTimeout(() => machine.child.kill("SIGKILL"), stopOptions.timeoutMs ?? machine.stopTimeoutMs)
      return Effect.promise(() => machine.exited).pipe(Effect.ensuring(Effect.sync(() => clearTimeout(killLater))))
    })

  // Closing the runtime stops every machine at once, without the grace period.
  yield* Effect.addFinalizer(() =>
    Effect.forEach([...running.keys()], (id) => stop(id, { signal: "SIGKILL" }), {
      discard: true,
      concurrency: "unbounded",
    }),
  )

  const start = Effect.fn("MachineRuntime.start")(function* (
    launch: MachineLaunch,
    onExit: (exit: MachineExit) => void,
  ) {
    yield* stop(launch.id, { signal: "SIGKILL" })
    const image = knownImage(launch.image, options.binaries)
    if (!image) return
    const config = yield* Schema.decodeUnknownEffect(RuntimeConfig)(launch.config).pipe(
      Effect.mapError((error) => new RuntimeError({ machineId: launch.id, message: `config: ${error.message}` })),
    )
    const root = join(machineDir(launch.id), "root")
    yield* Effect.promise(() => rm(root, { recursive: true, force: true }).then(() => mkdir(root, { recursive: true })))
    const files = yield* materializeFiles(launch.id, root, config.files ?? [], launch.secrets)
    const guest = guestCommand(image, config.init)
    const program = resolveProgram(image, guest[0])
    const log = createWriteStream(logFile(launch.id), { flags: "a" })
    if (!program) {
      // A container whose program does not exist exits 127 at once.
      log.end(`exec: ${guest[0] ?? "(empty command)"}: not found\n`)
      onExit({ exitCode: 127 })
      return
    }
    const guestArgs = guest.slice(1)
    if (chroot)
      yield* Effect.tryPromise({
        try: () => prepareGuestRoot(root, program, launch.place.globalServices),
        catch: (error) => new RuntimeError({ machineId: launch.id, message: `root: ${String(error)}` }),
      })
    const command: readonly [string, ...Array<string>] = chroot
      ? ["chroot", root, program.guestPath, ...guestArgs]
      : [program.binary, ...rewriteGuestPaths(guestArgs, (path) => files.get(path))]
    const [prefix, ...prefixArgs] = [...parentDeathPrefix, ...launch.place.run]
    const argv: readonly [string, ...Array<string>] =
      prefix === undefined ? command : [prefix, ...prefixArgs, ...command]
    const [executable, ...args] = argv
    const child = yield* Effect.callback<ChildProcess, RuntimeError>((resume) => {
      const child = spawn(executable, args, {
        cwd: root,
        env: machineEnv(launch, launch.env),
        stdio: ["ignore", "pipe", "pipe"],
      })
      child.stdout.pipe(log, { end: false })
      child.stderr.pipe(log, { end: false })
      child.once("spawn", () => resume(Effect.succeed(child)))
      child.once("error", (error) =>
        resume(Effect.fail(new RuntimeError({ machineId: launch.id, message: `spawn: ${error.message}` }))),
      )
    })
    const machine: Running = {
      child,
      exited: new Promise((resolve) => child.once("close", () => resolve())),
      stopSignal: config.stop_config?.signal ?? "SIGINT",
      stopTimeoutMs: goDurationMs(config.stop_config?.timeout) ?? 5_000,
      stopping: false,
    }
    running.set(launch.id, machine)
    child.once("close", (code, signal) => {
      log.end()
      if (running.get(launch.id) === machine) running.delete(launch.id)
      if (!machine.stopping)
        onExit(signal ? { exitCode: 128 + (constants.signals[signal] ?? 0), signal } : { exitCode: code ?? 0 })
    })
  })

  return {
    start,
    stop,
    isRunning: (machineId: string) => running.has(machineId),
    logFile,
    log: (machineId: string) => Effect.promise(() => readFile(logFile(machineId), "utf8").catch(() => "")),
  } satisfies typeof MachineRuntime.Service
})
