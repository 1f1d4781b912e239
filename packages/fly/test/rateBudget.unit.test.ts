import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { TestClock } from "effect/testing"
import { RateBudget } from "../src/index.ts"

/** Starts `count` takes at once and reports how many have gone through after each clock step. */
const admittedOverTime = (
  endpoint: "getMachine" | "createMachine",
  key: string,
  count: number,
  steps: ReadonlyArray<number>,
) =>
  Effect.gen(function* () {
    const budget = yield* RateBudget
    let admitted = 0
    const fibers = yield* Effect.forEach(Array.from({ length: count }), () =>
      Effect.forkChild(budget.take(endpoint, key).pipe(Effect.tap(() => Effect.sync(() => admitted++)))),
    )
    yield* Effect.yieldNow
    const seen = [admitted]
    for (const step of steps) {
      yield* TestClock.adjust(step)
      yield* Effect.yieldNow
      seen.push(admitted)
    }
    yield* Effect.forEach(fibers, Fiber.interrupt)
    return seen
  }).pipe(Effect.provide(RateBudget.layer))

describe("RateBudget at Fly's limits, one token of burst below them", () => {
  it.effect("1 req/s with a burst of 2 (Fly's 3) per action and key", () =>
    Effect.gen(function* () {
      // 2 at once, then one more each second (and 5 % headroom for jitter on the way).
      const seen = yield* admittedOverTime("createMachine", "app-a", 5, [1049, 1, 1049, 1, 1050])
      assert.deepStrictEqual(seen, [2, 2, 3, 3, 4, 5])
    }),
  )

  it.effect("Get Machine: 5 req/s with a burst of 9 (Fly's 10)", () =>
    Effect.gen(function* () {
      // 9 at once, then one every 200 ms (210 with the headroom).
      const seen = yield* admittedOverTime("getMachine", "m1", 12, [209, 1, 210, 210])
      assert.deepStrictEqual(seen, [9, 9, 10, 11, 12])
    }),
  )

  it.effect("buckets are separate per action and per key", () =>
    Effect.gen(function* () {
      const budget = yield* RateBudget
      let admitted = 0
      const take = (endpoint: "createMachine" | "deleteMachine", key: string) =>
        Effect.forkChild(budget.take(endpoint, key).pipe(Effect.tap(() => Effect.sync(() => admitted++))))
      for (let i = 0; i < 2; i++) yield* take("createMachine", "app-a")
      for (let i = 0; i < 2; i++) yield* take("createMachine", "app-b")
      for (let i = 0; i < 2; i++) yield* take("deleteMachine", "app-a")
      const blocked = yield* take("createMachine", "app-a")
      yield* Effect.yieldNow
      assert.strictEqual(admitted, 6)
      yield* TestClock.adjust(1050)
      yield* Fiber.join(blocked)
      assert.strictEqual(admitted, 7)
    }).pipe(Effect.provide(RateBudget.layer)),
  )

  it.effect("a full bucket does not grow past its burst after idling", () =>
    Effect.gen(function* () {
      const budget = yield* RateBudget
      yield* budget.take("createApp", "x")
      yield* TestClock.adjust(60_000)
      const seen = yield* admittedOverTime("createMachine", "x", 5, [])
      assert.deepStrictEqual(seen, [2])
    }).pipe(Effect.provide(RateBudget.layer)),
  )
})
