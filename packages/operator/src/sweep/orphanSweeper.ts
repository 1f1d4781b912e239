import { Duration, Effect, Schedule } from "effect"
import { makeOrphanSweep } from "./orphanSweep.ts"

export interface OrphanSweeperOptions {
  /** Between two passes; zero turns the sweeper off. */
  readonly interval: Duration.Input
  readonly grace: Duration.Input
}

/**
 * The operator's periodic sweep, run by the leader only (behind its fence, like every other write). A failed pass is
 * logged and the next one tries again; it never stops the controllers.
 */
export const runOrphanSweeper = (options: OrphanSweeperOptions) =>
  Effect.gen(function* () {
    if (Duration.isZero(Duration.fromInputUnsafe(options.interval))) return yield* Effect.never
    const sweep = yield* makeOrphanSweep()
    return yield* sweep({ dryRun: false, grace: options.grace }).pipe(
      Effect.catch((error) =>
        Effect.logWarning("the orphan sweep failed; the next pass tries again", {
          error: `${error._tag}: ${error.message}`,
        }),
      ),
      Effect.repeat(Schedule.spaced(options.interval)),
      Effect.andThen(Effect.never),
    )
  })
