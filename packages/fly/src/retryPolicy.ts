import { Duration, Effect, Schedule } from "effect"
import type { FlyError } from "./errors.ts"

/**
 * How a call may be repeated:
 * - `idempotent` (GET, DELETE, update, secrets): retried on 408, 429, 5xx and connection errors;
 * - `create`: a 408, a 5xx, a client timeout or a lost response may hide a success (Fly may have
 *   applied the create before failing to answer), so they are NOT retried: the caller lists to find
 *   out. 429 and connections never made are retried;
 * - `wait`: a 408 is Fly's answer "not reached yet" and goes back to the caller.
 */
export type RetryMode = "idempotent" | "create" | "wait"

export interface RetryOptions {
  /** Retries after the first attempt. */
  readonly maxRetries: number
  readonly baseDelay: Duration.Input
  readonly maxDelay: Duration.Input
}

export const defaultRetryOptions: RetryOptions = {
  maxRetries: 5,
  baseDelay: "250 millis",
  maxDelay: "10 seconds",
}

export const isRetryable = (error: FlyError, mode: RetryMode): boolean => {
  switch (error._tag) {
    case "FlyRateLimited":
      return true
    case "FlyTransport":
      // With a status it is a 5xx answer, which may follow an applied create; without, the request never left.
      return mode !== "create" || error.status === undefined
    case "FlyTimeout":
      return mode === "idempotent" || (mode === "wait" && error.reason !== "server")
    default:
      return false
  }
}

/** The wait before the next attempt: the backoff, or Fly's `Retry-After` when that is longer. */
export const retryDelay = (error: FlyError, backoff: Duration.Duration): Duration.Duration =>
  error._tag === "FlyRateLimited" && error.retryAfterSeconds !== undefined
    ? Duration.max(backoff, Duration.seconds(error.retryAfterSeconds))
    : backoff

/** Capped exponential backoff with jitter, bounded attempts, only for retryable errors. */
export const retrySchedule = (mode: RetryMode, options: RetryOptions) =>
  Schedule.min([Schedule.exponential(options.baseDelay), Schedule.spaced(options.maxDelay)]).pipe(
    Schedule.jittered,
    Schedule.setInputType<FlyError>(),
    Schedule.while(({ input }) => isRetryable(input, mode)),
    Schedule.modifyDelay(({ input, duration }) => Effect.succeed(retryDelay(input, duration))),
    Schedule.upTo({ times: options.maxRetries }),
  )
