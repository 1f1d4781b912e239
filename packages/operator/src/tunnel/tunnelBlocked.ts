import { ConditionTypes, Reasons } from "@fly-tunnel-operator/api"
import { type FlyError, isFlyError } from "@fly-tunnel-operator/fly"
import { Effect, Schema } from "effect"
import { describeFlyError, reasonOfFlyError } from "./flyFailure.ts"

/**
 * A step of the reconcile cannot go on: which condition says so, with what reason and message. `retry` false means
 * only a change of the spec can help (no backoff loop that creates and destroys things, unlike the Go operator).
 */
export class TunnelBlocked extends Schema.TaggedError<TunnelBlocked>()("TunnelBlocked", {
  condition: Schema.Literals(ConditionTypes),
  reason: Schema.String,
  message: Schema.String,
  retry: Schema.Boolean,
  /** When the step may be tried again at the earliest (instead of the usual backoff). */
  retryAfterMillis: Schema.optionalKey(Schema.Number),
}) {}

/** Turns a Fly failure of a step into the step's condition; the work is retried with backoff. */
export const blockedByFly =
  (condition: TunnelBlocked["condition"]) =>
  <A, E, R>(effect: Effect.Effect<A, E | FlyError, R>): Effect.Effect<A, Exclude<E, FlyError> | TunnelBlocked, R> =>
    effect.pipe(
      Effect.catchIf<E | FlyError, FlyError, never, TunnelBlocked, never>(isFlyError, (error) =>
        Effect.fail(
          new TunnelBlocked({
            condition,
            reason: reasonOfFlyError(error),
            message: describeFlyError(error),
            retry: true,
          }),
        ),
      ),
    )

/** Whether a failure is a step's TunnelBlocked (routed by its tag, as a member of the step's error union). */
export const isTunnelBlocked: (u: unknown) => u is TunnelBlocked = Schema.is(TunnelBlocked)

export const invalidSpec = (message: string) =>
  new TunnelBlocked({ condition: "Ready", reason: Reasons.InvalidSpec, message, retry: false })
