// A work queue with client-go's semantics (util/workqueue): a key queued many times is processed
// once, a key is never handed to two workers at once (a key added while it is processed is handed
// out again after `done`), failures back off per key until `forget`, and delayed adds keep the
// earliest deadline.
import {
  type Cause,
  Clock,
  Duration,
  Effect,
  FiberMap,
  Metric,
  Option,
  Pull,
  Queue,
  Schedule,
  type Scope,
} from "effect"
import { workqueueDepth } from "./controllerMetrics.ts"

export interface WorkQueue {
  /** Queues a key unless it is already waiting; no-op after shutdown. */
  readonly add: (key: string) => Effect.Effect<void>
  /** Queues a key after a delay; an earlier pending deadline for the same key wins. */
  readonly addAfter: (key: string, delay: Duration.Input) => Effect.Effect<void>
  /** Queues a key after its next backoff delay (the key's failure count grows by one). */
  readonly addRateLimited: (key: string) => Effect.Effect<void>
  /** Resets a key's backoff, after a success. */
  readonly forget: (key: string) => Effect.Effect<void>
  /** How many times a key went through `addRateLimited` since its last `forget`. */
  readonly failures: (key: string) => Effect.Effect<number>
  /** Waits for the next key and marks it as processing; `None` once the queue is shut down. */
  readonly take: Effect.Effect<Option.Option<string>>
  /** Marks a taken key as processed; re-queues it if it was added meanwhile. */
  readonly done: (key: string) => Effect.Effect<void>
  /** Keys waiting to be taken (not counting delayed ones or keys in processing). */
  readonly depth: Effect.Effect<number>
  /**
   * Stops accepting keys, cancels delayed adds and drops waiting keys, and wakes every `take` with `None`.
   * Keys already taken stay the caller's to finish (or to abandon: level-based reconciles
   * pick them up again after a restart).
   */
  readonly shutdown: Effect.Effect<void>
}

export interface WorkQueueOptions {
  /** The `controller` attribute of the `workqueue_depth` gauge. */
  readonly name: string
  /**
   * Per-key failure backoff; stepped once per `addRateLimited`, restarted by `forget`.
   * When it ends, the key is dropped (given up) instead of re-queued.
   */
  readonly backoff?: Schedule.Schedule<unknown> | undefined
}

/** client-go's per-item default, `min(5ms * 2^failures, 1000s)`, with ±20% jitter. */
export const defaultBackoff: Schedule.Schedule<unknown> = Schedule.min([
  Schedule.exponential("5 millis"),
  Schedule.spaced("1000 seconds"),
]).pipe(Schedule.jittered)

type Step = (now: number, input: unknown) => Pull.Pull<[unknown, Duration.Duration], never, unknown>

export const make = Effect.fnUntraced(function* (
  options: WorkQueueOptions,
): Effect.fn.Return<WorkQueue, never, Scope.Scope> {
  const backoff = options.backoff ?? defaultBackoff
  const depthGauge = Metric.withAttributes(workqueueDepth, { controller: options.name })
  // Each key is in `ready` at most once: it enters only when it is neither dirty nor processing.
  const ready = yield* Queue.unbounded<string, Cause.Done>()
  const dirty = new Set<string>()
  const processing = new Set<string>()
  const backoffSteps = new Map<string, Step>()
  const failureCounts = new Map<string, number>()
  const deadlines = new Map<string, number>()
  const delayed = yield* FiberMap.make<string>()
  let isShutdown = false

  const reportDepth = Queue.size(ready).pipe(Effect.flatMap((size) => Metric.update(depthGauge, size)))

  const add = (key: string) =>
    Effect.suspend(() => {
      if (isShutdown || dirty.has(key)) return Effect.void
      dirty.add(key)
      if (processing.has(key)) return Effect.void
      return Queue.offer(ready, key).pipe(Effect.andThen(reportDepth))
    })

  const addAfter = (key: string, delay: Duration.Input) =>
    Effect.gen(function* () {
      if (isShutdown) return
      const millis = Duration.toMillis(Duration.fromInputUnsafe(delay))
      if (millis <= 0) return yield* add(key)
      const now = yield* Clock.currentTimeMillis
      const deadline = now + millis
      const pending = deadlines.get(key)
      if (pending !== undefined && pending <= deadline) return
      deadlines.set(key, deadline)
      yield* FiberMap.run(
        delayed,
        key,
        Effect.sleep(Duration.millis(millis)).pipe(
          Effect.andThen(Effect.sync(() => deadlines.delete(key))),
          Effect.andThen(add(key)),
        ),
      )
    })

  const addRateLimited = (key: string) =>
    Effect.gen(function* () {
      if (isShutdown) return
      let step = backoffSteps.get(key)
      if (step === undefined) {
        step = yield* Schedule.toStep(backoff)
        backoffSteps.set(key, step)
      }
      failureCounts.set(key, (failureCounts.get(key) ?? 0) + 1)
      const now = yield* Clock.currentTimeMillis
      const delay = yield* step(now, key).pipe(
        Effect.map(([, duration]) => Option.some(duration)),
        Pull.catchDone(() => Effect.succeed(Option.none<Duration.Duration>())),
      )
      if (Option.isNone(delay)) {
        yield* Effect.logWarning("work queue backoff exhausted; dropping key").pipe(
          Effect.annotateLogs({ controller: options.name, key }),
        )
        return
      }
      yield* addAfter(key, delay.value)
    })

  const forget = (key: string) =>
    Effect.sync(() => {
      backoffSteps.delete(key)
      failureCounts.delete(key)
    })

  const take: Effect.Effect<Option.Option<string>> = Queue.take(ready).pipe(
    Effect.map((key) => {
      dirty.delete(key)
      processing.add(key)
      return Option.some(key)
    }),
    Effect.tap(reportDepth),
    Effect.catch(() => Effect.succeed(Option.none<string>())),
  )

  const done = (key: string) =>
    Effect.suspend(() => {
      processing.delete(key)
      if (isShutdown || !dirty.has(key)) return Effect.void
      return Queue.offer(ready, key).pipe(Effect.andThen(reportDepth))
    })

  const shutdown = Effect.gen(function* () {
    if (isShutdown) return
    isShutdown = true
    yield* FiberMap.clear(delayed)
    deadlines.clear()
    dirty.clear()
    yield* Queue.clear(ready)
    yield* Queue.end(ready)
    yield* reportDepth
  })

  yield* Effect.addFinalizer(() => shutdown)

  return {
    add,
    addAfter,
    addRateLimited,
    forget,
    failures: (key) => Effect.sync(() => failureCounts.get(key) ?? 0),
    take,
    done,
    depth: Queue.size(ready),
    shutdown,
  }
})
