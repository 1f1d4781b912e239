import { execFile } from "node:child_process"
import { Effect } from "effect"
import { NetworkError } from "./networkError.ts"

/** Runs `ip <args>` (iproute2); fails with its stderr. */
export const ip = (args: ReadonlyArray<string>): Effect.Effect<string, NetworkError> =>
  Effect.callback<string, NetworkError>((resume) => {
    execFile("ip", [...args], (error, stdout, stderr) => {
      if (error)
        resume(Effect.fail(new NetworkError({ message: `ip ${args.join(" ")}: ${stderr.trim() || error.message}` })))
      else resume(Effect.succeed(stdout))
    })
  })

/** True when the failure says the object already exists: how we claim names and routes atomically. */
export const alreadyExists = (error: NetworkError): boolean => /File exists|already exists/i.test(error.message)

/** For teardown: a failure is logged, never raised, so one leftover does not stop the rest. */
export const ipBestEffort = (args: ReadonlyArray<string>): Effect.Effect<void> =>
  ip(args).pipe(
    Effect.asVoid,
    Effect.catch((error) => Effect.logDebug(error.message)),
  )
