import { execFile } from "node:child_process"
import { Effect } from "effect"
import { ServiceNetworkError } from "./serviceNetworkError.ts"

/** Runs `ip <args>` (iproute2); fails with its stderr. */
export const ip = (args: ReadonlyArray<string>): Effect.Effect<string, ServiceNetworkError> =>
  Effect.callback<string, ServiceNetworkError>((resume) => {
    execFile("ip", [...args], (error, stdout, stderr) => {
      if (error) {
        resume(
          Effect.fail(new ServiceNetworkError({ message: `ip ${args.join(" ")}: ${stderr.trim() || error.message}` })),
        )
      } else resume(Effect.succeed(stdout))
    })
  })

/** True when `ip` refused because the name or route is taken: how a slot is claimed atomically. */
export const alreadyExists = (error: ServiceNetworkError): boolean => /File exists|already exists/i.test(error.message)

/** For teardown: a failure is ignored so one leftover does not stop the rest. */
export const ipBestEffort = (args: ReadonlyArray<string>): Effect.Effect<void> => ip(args).pipe(Effect.ignore)
