import { ConditionTypes, Reasons } from "@fly-tunnel-operator/api"
import type { FlyError } from "@fly-tunnel-operator/fly"
import { Effect, Predicate, Schema } from "effect"
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
}) {}

const isFlyError = (error: unknown): error is FlyError =>
  Predicate.hasProperty(error, "_tag") && typeof error._tag === "string" && error._tag.startsWith("Fly")

/** Turns a Fly failure of a step into the step's condition; the work is retried with backoff. */
export const blockedByFly =
  (condition: TunnelBlocked["condition"]) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, Exclude<E, FlyError> | TunnelBlocked, R> =>
    Effect.catchIf(effect, isFlyError, (error) => {
      const failure = error as unknown as FlyError
      return Effect.fail(
        new TunnelBlocked({
          condition,
          reason: reasonOfFlyError(failure),
          message: describeFlyError(failure),
          retry: true,
        }),
      )
    }) as Effect.Effect<A, Exclude<E, FlyError> | TunnelBlocked, R>

export const invalidSpec = (message: string) =>
  new TunnelBlocked({ condition: "Ready", reason: Reasons.InvalidSpec, message, retry: false })
