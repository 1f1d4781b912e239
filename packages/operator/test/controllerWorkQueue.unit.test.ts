import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Metric, Option, Schedule } from "effect"
import { TestClock } from "effect/testing"
import { workqueueDepth } from "../src/controller/controllerMetrics.ts"
import * as WorkQueue from "../src/controller/workQueue.ts"

const noJitter = Schedule.exponential("10 millis")

const takeNow = (queue: WorkQueue.WorkQueue) => Effect.map(queue.take, Option.getOrThrow)

// Lets forked fibers (delayed adds, waiting takes) run without moving the clock.
const settle = Effect.repeat(Effect.yieldNow, { times: 20 })

describe("WorkQueue", () => {
  it.effect("a key queued twice is handed out once", () =>
    Effect.gen(function* () {
      const queue = yield* WorkQueue.make({ name: "t" })
      yield* queue.add("a")
      yield* queue.add("b")
      yield* queue.add("a")
      assert.strictEqual(yield* queue.depth, 2)
      assert.strictEqual(yield* takeNow(queue), "a")
      assert.strictEqual(yield* takeNow(queue), "b")
      assert.strictEqual(yield* queue.depth, 0)
    }),
  )

  it.effect("a key added while processing is handed out again only after done", () =>
    Effect.gen(function* () {
      const queue = yield* WorkQueue.make({ name: "t" })
      yield* queue.add("a")
      assert.strictEqual(yield* takeNow(queue), "a")
      yield* queue.add("a")
      yield* queue.add("a")
      assert.strictEqual(yield* queue.depth, 0)
      const second = yield* Effect.forkChild(queue.take)
      yield* settle
      assert.isUndefined(second.pollUnsafe())
      yield* queue.done("a")
      assert.deepStrictEqual(yield* Fiber.join(second), Option.some("a"))
      yield* queue.done("a")
      assert.strictEqual(yield* queue.depth, 0)
    }),
  )

  it.effect("done without a new add does not re-queue", () =>
    Effect.gen(function* () {
      const queue = yield* WorkQueue.make({ name: "t" })
      yield* queue.add("a")
      yield* takeNow(queue)
      yield* queue.done("a")
      assert.strictEqual(yield* queue.depth, 0)
    }),
  )

  it.effect("failure backoff doubles per retry and resets on forget", () =>
    Effect.gen(function* () {
      const queue = yield* WorkQueue.make({ name: "t", backoff: noJitter })
      const readyAfter = Effect.fnUntraced(function* (millis: number) {
        yield* queue.addRateLimited("a")
        yield* settle
        yield* TestClock.adjust(millis - 1)
        assert.strictEqual(yield* queue.depth, 0, `not ready before ${millis}ms`)
        yield* TestClock.adjust(1)
        assert.strictEqual(yield* queue.depth, 1, `ready at ${millis}ms`)
        yield* takeNow(queue)
        yield* queue.done("a")
      })
      yield* readyAfter(10)
      yield* readyAfter(20)
      yield* readyAfter(40)
      assert.strictEqual(yield* queue.failures("a"), 3)
      yield* queue.forget("a")
      assert.strictEqual(yield* queue.failures("a"), 0)
      yield* readyAfter(10)
    }),
  )

  it.effect("backoff is per key", () =>
    Effect.gen(function* () {
      const queue = yield* WorkQueue.make({ name: "t", backoff: noJitter })
      yield* queue.addRateLimited("a")
      yield* queue.addRateLimited("a")
      yield* queue.addRateLimited("b")
      yield* settle
      assert.strictEqual(yield* queue.failures("a"), 2)
      assert.strictEqual(yield* queue.failures("b"), 1)
      yield* TestClock.adjust(10)
      // "a" keeps its earlier (10ms) deadline; "b" is due at 10ms too.
      assert.strictEqual(yield* queue.depth, 2)
    }),
  )

  it.effect("default backoff starts near 5ms with jitter and grows", () =>
    Effect.gen(function* () {
      const queue = yield* WorkQueue.make({ name: "t" })
      const delays: Array<number> = []
      for (let i = 0; i < 4; i++) {
        yield* queue.addRateLimited("a")
        yield* settle
        let waited = 0
        while ((yield* queue.depth) === 0) {
          yield* TestClock.adjust(1)
          waited++
        }
        delays.push(waited)
        yield* takeNow(queue)
        yield* queue.done("a")
      }
      const expected = [5, 10, 20, 40]
      delays.forEach((delay, i) => {
        const base = expected[i] ?? 0
        assert.isAtLeast(delay, Math.floor(base * 0.8), `attempt ${i}: ${delays}`)
        assert.isAtMost(delay, Math.ceil(base * 1.2), `attempt ${i}: ${delays}`)
      })
    }),
  )

  it.effect("addAfter delivers after the delay, and the earliest deadline wins", () =>
    Effect.gen(function* () {
      const queue = yield* WorkQueue.make({ name: "t" })
      yield* queue.addAfter("a", "100 millis")
      yield* queue.addAfter("a", "50 millis")
      yield* queue.addAfter("a", "70 millis")
      yield* settle
      yield* TestClock.adjust(49)
      assert.strictEqual(yield* queue.depth, 0)
      yield* TestClock.adjust(1)
      assert.strictEqual(yield* queue.depth, 1)
      yield* takeNow(queue)
      yield* queue.done("a")
      yield* TestClock.adjust(100)
      assert.strictEqual(yield* queue.depth, 0, "later deadlines were dropped")
    }),
  )

  it.effect("addAfter with no delay adds at once", () =>
    Effect.gen(function* () {
      const queue = yield* WorkQueue.make({ name: "t" })
      yield* queue.addAfter("a", 0)
      assert.strictEqual(yield* queue.depth, 1)
    }),
  )

  it.effect("shutdown wakes waiting takers with None, drops waiting and delayed keys, refuses new ones", () =>
    Effect.gen(function* () {
      const queue = yield* WorkQueue.make({ name: "t" })
      const waiting = yield* Effect.forkChild(queue.take)
      yield* settle
      yield* queue.addAfter("later", "1 second")
      yield* settle
      yield* queue.shutdown
      assert.deepStrictEqual(yield* Fiber.join(waiting), Option.none())
      yield* queue.add("a")
      yield* TestClock.adjust("2 seconds")
      assert.strictEqual(yield* queue.depth, 0)
      assert.deepStrictEqual(yield* queue.take, Option.none())
    }),
  )

  it.effect("a key in processing at shutdown can still be marked done", () =>
    Effect.gen(function* () {
      const queue = yield* WorkQueue.make({ name: "t" })
      yield* queue.add("a")
      yield* takeNow(queue)
      yield* queue.add("a")
      yield* queue.shutdown
      yield* queue.done("a")
      assert.deepStrictEqual(yield* queue.take, Option.none())
    }),
  )

  it.effect("reports its depth as the workqueue_depth gauge", () =>
    Effect.gen(function* () {
      const queue = yield* WorkQueue.make({ name: "gauged" })
      const gauge = Metric.withAttributes(workqueueDepth, { controller: "gauged" })
      yield* queue.add("a")
      yield* queue.add("b")
      assert.strictEqual((yield* Metric.value(gauge)).value, 2)
      yield* takeNow(queue)
      assert.strictEqual((yield* Metric.value(gauge)).value, 1)
    }).pipe(Effect.provideService(Metric.MetricRegistry, new Map())),
  )
})
