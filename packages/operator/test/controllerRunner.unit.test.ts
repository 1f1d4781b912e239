import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Metric, Queue, Schedule, Stream } from "effect"
import { TestClock } from "effect/testing"
import * as Controller from "../src/controller/controller.ts"
import { reconcileErrorsTotal, reconcileTotal } from "../src/controller/controllerMetrics.ts"
import * as ReconcileResult from "../src/controller/reconcileResult.ts"
import type * as Source from "../src/controller/source.ts"

// A source the test feeds by hand.
const fakeSource = Effect.gen(function* () {
  const keys = yield* Queue.unbounded<string>()
  const synced = yield* Deferred.make<void>()
  const known = new Set<string>()
  const source: Source.Source = {
    subscribe: Deferred.await(synced).pipe(Effect.as({ initial: [], changes: Stream.fromQueue(keys) })),
    keys: Effect.sync(() => [...known]),
  }
  const emit = (key: string) => Effect.sync(() => known.add(key)).pipe(Effect.andThen(Queue.offer(keys, key)))
  return { source, emit, markSynced: Deferred.succeed(synced, undefined) }
})

const settle = Effect.repeat(Effect.yieldNow, { times: 50 })

class Boom {
  readonly _tag = "Boom"
}

describe("Controller", () => {
  it.effect("reconciles emitted keys, only after every source synced", () =>
    Effect.gen(function* () {
      const { source, emit, markSynced } = yield* fakeSource
      const seen: Array<string> = []
      const controller = Controller.make({
        name: "t",
        watches: [source],
        reconcile: (key) => Effect.sync(() => seen.push(key)).pipe(Effect.as(ReconcileResult.done)),
      })
      yield* Effect.forkChild(controller.run)
      yield* emit("ns/a")
      yield* settle
      assert.deepStrictEqual(seen, [])
      assert.isFalse(yield* controller.isSynced)
      yield* markSynced
      yield* settle
      assert.deepStrictEqual(seen, ["ns/a"])
      assert.isTrue(yield* controller.isSynced)
      yield* emit("ns/b")
      yield* settle
      assert.deepStrictEqual(seen, ["ns/a", "ns/b"])
    }),
  )

  it.effect("queues every source's initial keys before a worker starts: a key several sources report runs once", () =>
    Effect.gen(function* () {
      const late = yield* Deferred.make<void>()
      const initially = (keys: ReadonlyArray<string>, synced: Effect.Effect<void> = Effect.void): Source.Source => ({
        subscribe: Effect.as(synced, { initial: keys, changes: Stream.never }),
        keys: Effect.succeed(keys),
      })
      const seen: Array<string> = []
      const controller = Controller.make({
        name: "t",
        // Two workers, and the last source to sync reports keys the first one already queued.
        concurrency: 2,
        watches: [initially(["ns/a", "ns/b", "ns/c"]), initially(["ns/c", "ns/a"], Deferred.await(late))],
        reconcile: (key) => Effect.sync(() => seen.push(key)).pipe(Effect.as(ReconcileResult.done)),
      })
      yield* Effect.forkChild(controller.run)
      yield* settle
      assert.deepStrictEqual(seen, [])
      yield* Deferred.succeed(late, undefined)
      yield* settle
      assert.sameMembers(seen, ["ns/a", "ns/b", "ns/c"])
      assert.lengthOf(seen, 3)
    }),
  )

  it.effect("collapses events for a key in reconcile into one more run, never two at once", () =>
    Effect.gen(function* () {
      const { source, emit, markSynced } = yield* fakeSource
      yield* markSynced
      const release = yield* Deferred.make<void>()
      let running = 0
      let maxRunning = 0
      let runs = 0
      const controller = Controller.make({
        name: "t",
        watches: [source],
        concurrency: 4,
        reconcile: () =>
          Effect.gen(function* () {
            running++
            runs++
            maxRunning = Math.max(maxRunning, running)
            yield* Deferred.await(release)
            running--
            return ReconcileResult.done
          }),
      })
      yield* Effect.forkChild(controller.run)
      yield* emit("ns/a")
      yield* settle
      assert.strictEqual(runs, 1)
      yield* emit("ns/a")
      yield* emit("ns/a")
      yield* emit("ns/a")
      yield* settle
      assert.strictEqual(runs, 1, "no second reconcile while the first runs")
      yield* Deferred.succeed(release, undefined)
      yield* settle
      assert.strictEqual(runs, 2)
      assert.strictEqual(maxRunning, 1)
    }),
  )

  it.effect("runs at most `concurrency` reconciles at once", () =>
    Effect.gen(function* () {
      const { source, emit, markSynced } = yield* fakeSource
      yield* markSynced
      const release = yield* Deferred.make<void>()
      let running = 0
      let maxRunning = 0
      const finished: Array<string> = []
      const controller = Controller.make({
        name: "t",
        watches: [source],
        concurrency: 2,
        reconcile: (key) =>
          Effect.gen(function* () {
            running++
            maxRunning = Math.max(maxRunning, running)
            yield* Deferred.await(release)
            running--
            finished.push(key)
            return ReconcileResult.done
          }),
      })
      yield* Effect.forkChild(controller.run)
      for (const key of ["a", "b", "c", "d", "e"]) yield* emit(key)
      yield* settle
      assert.strictEqual(running, 2)
      yield* Deferred.succeed(release, undefined)
      yield* settle
      assert.strictEqual(maxRunning, 2)
      assert.sameMembers(finished, ["a", "b", "c", "d", "e"])
    }),
  )

  it.effect("retries failures and Retry results with growing backoff, and resets it on success", () =>
    Effect.gen(function* () {
      const { source, emit, markSynced } = yield* fakeSource
      yield* markSynced
      const outcomes: Array<"fail" | "retry" | "done"> = ["fail", "retry", "fail", "done", "fail", "done"]
      const attempts: Array<number> = []
      const controller = Controller.make({
        name: "retrying",
        watches: [source],
        backoff: Schedule.exponential("1 second"),
        reconcile: () =>
          Effect.gen(function* () {
            attempts.push(yield* Effect.clockWith((clock) => clock.currentTimeMillis))
            const outcome = outcomes.shift()
            if (outcome === "fail") return yield* Effect.fail(new Boom())
            return outcome === "retry" ? ReconcileResult.retry : ReconcileResult.done
          }),
      })
      yield* Effect.forkChild(controller.run)
      yield* emit("a")
      yield* settle
      for (let i = 0; i < 10; i++) {
        yield* TestClock.adjust("1 second")
        yield* settle
      }
      // fail@0 → +1s retry@1 → +2s fail@3 → +4s done@7; a new event then fails@10 → +1s (reset) done@11.
      assert.deepStrictEqual(attempts.slice(0, 4), [0, 1000, 3000, 7000])
      yield* emit("a")
      yield* settle
      yield* TestClock.adjust("1 second")
      yield* settle
      assert.deepStrictEqual(attempts.slice(4), [10000, 11000])
      const count = (result: string) =>
        Metric.value(Metric.withAttributes(reconcileTotal, { controller: "retrying", result }))
      assert.strictEqual((yield* count("error")).count, 3)
      assert.strictEqual((yield* count("requeue")).count, 1)
      assert.strictEqual((yield* count("success")).count, 2)
      const errors = yield* Metric.value(Metric.withAttributes(reconcileErrorsTotal, { controller: "retrying" }))
      assert.strictEqual(errors.count, 3)
    }).pipe(Effect.provideService(Metric.MetricRegistry, new Map())),
  )

  it.effect("RequeueAfter runs the key again after the delay", () =>
    Effect.gen(function* () {
      const { source, emit, markSynced } = yield* fakeSource
      yield* markSynced
      let runs = 0
      const controller = Controller.make({
        name: "t",
        watches: [source],
        reconcile: () => Effect.sync(() => runs++).pipe(Effect.as(ReconcileResult.requeueAfter("1 minute"))),
      })
      yield* Effect.forkChild(controller.run)
      yield* emit("a")
      yield* settle
      assert.strictEqual(runs, 1)
      yield* TestClock.adjust("59 seconds")
      yield* settle
      assert.strictEqual(runs, 1)
      yield* TestClock.adjust("1 second")
      yield* settle
      assert.strictEqual(runs, 2)
    }),
  )

  it.effect("resync re-enqueues every key the sources know", () =>
    Effect.gen(function* () {
      const { source, emit, markSynced } = yield* fakeSource
      yield* markSynced
      const seen: Array<string> = []
      const controller = Controller.make({
        name: "t",
        watches: [source],
        resync: "10 minutes",
        reconcile: (key) => Effect.sync(() => seen.push(key)).pipe(Effect.as(ReconcileResult.done)),
      })
      yield* Effect.forkChild(controller.run)
      yield* emit("a")
      yield* emit("b")
      yield* settle
      assert.deepStrictEqual(seen, ["a", "b"])
      yield* TestClock.adjust("10 minutes")
      yield* settle
      assert.sameMembers(seen.slice(2), ["a", "b"])
      yield* TestClock.adjust("10 minutes")
      yield* settle
      assert.strictEqual(seen.length, 6)
    }),
  )

  it.effect("stopping lets an in-flight reconcile finish and takes no new key", () =>
    Effect.gen(function* () {
      const { source, emit, markSynced } = yield* fakeSource
      yield* markSynced
      const release = yield* Deferred.make<void>()
      const started: Array<string> = []
      const finished: Array<string> = []
      const controller = Controller.make({
        name: "t",
        watches: [source],
        reconcile: (key) =>
          Effect.gen(function* () {
            started.push(key)
            yield* Deferred.await(release)
            finished.push(key)
            return ReconcileResult.done
          }),
      })
      const running = yield* Effect.forkChild(controller.run)
      yield* emit("a")
      yield* emit("b")
      yield* settle
      assert.deepStrictEqual(started, ["a"])
      const stopping = yield* Effect.forkChild(Fiber.interrupt(running))
      yield* settle
      assert.isUndefined(stopping.pollUnsafe(), "stop waits for the in-flight reconcile")
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(stopping)
      assert.deepStrictEqual(finished, ["a"])
      assert.deepStrictEqual(started, ["a"])
      assert.isFalse(yield* controller.isSynced)
    }),
  )

  it.effect("stopping abandons an in-flight reconcile after the grace period", () =>
    Effect.gen(function* () {
      const { source, emit, markSynced } = yield* fakeSource
      yield* markSynced
      let interrupted = false
      const controller = Controller.make({
        name: "t",
        watches: [source],
        shutdownGrace: "5 seconds",
        reconcile: () =>
          Effect.never.pipe(
            Effect.onInterrupt(() => Effect.sync(() => (interrupted = true))),
            Effect.as(ReconcileResult.done),
          ),
      })
      const running = yield* Effect.forkChild(controller.run)
      yield* emit("a")
      yield* settle
      const stopping = yield* Effect.forkChild(Fiber.interrupt(running))
      yield* settle
      assert.isFalse(interrupted)
      yield* TestClock.adjust("5 seconds")
      yield* Fiber.join(stopping)
      assert.isTrue(interrupted)
    }),
  )
})
