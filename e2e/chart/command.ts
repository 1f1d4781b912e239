import { spawn } from "node:child_process"
import { Effect, Schema } from "effect"

export class CommandSpawnError extends Schema.TaggedError<CommandSpawnError>()("CommandSpawnError", {
  command: Schema.String,
  message: Schema.String,
}) {}

/** What a finished command printed and how it exited; a non-zero exit is data for the test, not an error. */
export interface CommandResult {
  readonly exitCode: number
  readonly stdout: string
  readonly stderr: string
}

/** Runs `file args…` with `input` on stdin; fails only when the binary cannot be started. */
export const runCommand = (
  file: string,
  args: ReadonlyArray<string>,
  options: { readonly input?: string } = {},
): Effect.Effect<CommandResult, CommandSpawnError> =>
  Effect.callback<CommandResult, CommandSpawnError>((resume) => {
    const child = spawn(file, args, { stdio: ["pipe", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString()
    })
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString()
    })
    child.on("error", (error) => resume(Effect.fail(new CommandSpawnError({ command: file, message: error.message }))))
    child.on("close", (code) => resume(Effect.succeed({ exitCode: code ?? -1, stdout, stderr })))
    child.stdin.end(options.input ?? "")
    return Effect.sync(() => child.kill())
  })

/** Like `runCommand`, but a non-zero exit becomes a defect carrying the command's output. */
export const runCommandOk = (file: string, args: ReadonlyArray<string>, options: { readonly input?: string } = {}) =>
  runCommand(file, args, options).pipe(
    Effect.tap((result) =>
      result.exitCode === 0
        ? Effect.void
        : Effect.die(
            new Error(`${file} ${args.join(" ")} exited ${result.exitCode}:\n${result.stderr}\n${result.stdout}`),
          ),
    ),
  )
