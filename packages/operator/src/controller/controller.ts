// The generic controller loop: sources → work queue → N workers running `reconcile(key)`, with
// controller-runtime's handling of the result (see reconcileResult.ts) and its metric names.
import { Cause, Duration, Effect, Exit, Fiber, Metric, Option, Schedule, Stream } from "effect"
import { LeadershipFence } from "../kube/leadershipFence.ts"
import { reconcileDurationSeconds, reconcileErrorsTotal, reconcileTotal } from "./controllerMetrics.ts"
import type { ReconcileResult } from "./reconcileResult.ts"
import type { Source } from "./source.ts"
import * as WorkQueue from "./workQueue.ts"

export interface ControllerOptions<E, R> {
  /** Names the controller in logs and metrics. */
  readonly name: string
  /** Level-based: reads the world for `key` and converges it. A failure means Retry with backoff. */
  readonly reconcile: (key: string) => Effect.Effect<ReconcileResult, E, R>
  readonly watches: ReadonlyArray<Source>
  /** Workers; one key is never reconciled by two at once. Default 1. */
  readonly concurrency?: number | undefined
  /** Re-enqueue every key the sources know at this interval (finds drift outside the cluster). */
  readonly resync?: Duration.Input | undefined
  /** Per-key failure backoff; default `WorkQueue.defaultBackoff`. */
  readonly backoff?: Schedule.Schedule<unknown> | undefined
  /** How long in-flight reconciles may finish after the controller is stopped (not after a lost lease). Default 20s. */
  readonly shutdownGrace?: Duration.Input | undefined
}

export interface Controller<R> {
  readonly name: string
  /** Runs the controller until interrupted; interruption stops the sources and drains in-flight reconciles. */
  readonly run: Effect.Effect<never, never, R>
  /** True once every source synced and the workers started. */
  readonly isSynced: Effect.Effect<boolean>
}

type ResultLabel = "success" | "requeue" | "requeue_after" | "error"

export const make = <E, R>(options: ControllerOptions<E, R>): Controller<R> => {
  const { name } = options
  const concurrency = Math.max(1, options.concurrency ?? 1)
  const grace = options.shutdownGrace ?? Duration.seconds(20)
  const reconcileErrors = Metric.withAttributes(reconcileErrorsTotal, { controller: name })
  const reconcileDuration = Metric.withAttributes(reconcileDurationSeconds, { controller: name })
  const countResult = (result: ResultLabel) =>
    Metric.update(Metric.withAttributes(reconcileTotal, { controller: name, result }), 1)
  let synced = false

  const handle = (queue: WorkQueue.WorkQueue, key: string) =>
    Effect.gen(function* () {
      const [elapsed, exit] = yield* Effect.timed(Effect.exit(options.reconcile(key)))
      yield* Metric.update(reconcileDuration, Duration.toMillis(elapsed) / 1000)
      if (Exit.isFailure(exit)) {
        if (Cause.hasInterruptsOnly(exit.cause)) return yield* Effect.interrupt
        yield* countResult("error")
        yield* Metric.update(reconcileErrors, 1)
        yield* Effect.logError("reconcile failed", exit.cause)
        return yield* queue.addRateLimited(key)
      }
      const result = exit.value
      switch (result._tag) {
        case "Done":
          yield* countResult("success")
          yield* Effect.logDebug("reconciled")
          return yield* queue.forget(key)
        case "RequeueAfter":
          yield* countResult("requeue_after")
          yield* Effect.logDebug("reconciled; requeue after", Duration.format(Duration.fromInputUnsafe(result.delay)))
          yield* queue.forget(key)
          return yield* queue.addAfter(key, result.delay)
        case "Retry":
          yield* countResult("requeue")
          yield* Effect.logDebug("reconcile asked for a retry")
          return yield* queue.addRateLimited(key)
      }
    }).pipe(Effect.ensuring(queue.done(key)), Effect.annotateLogs({ controller: name, key }))

  const worker = (queue: WorkQueue.WorkQueue) =>
    Effect.gen(function* () {
      while (true) {
        const key = yield* queue.take
        if (Option.isNone(key)) return
        yield* handle(queue, key.value)
      }
    })

  const enqueueAll = (queue: WorkQueue.WorkQueue) =>
    Effect.forEach(options.watches, (source) => Effect.flatMap(source.keys, Effect.forEach(queue.add)), {
      discard: true,
    })

  const run: Effect.Effect<never, never, R> = Effect.gen(function* () {
    const queue = yield* WorkQueue.make({ name, backoff: options.backoff })
    // Workers start once every source synced and its initial keys are queued (client-go's WaitForCacheSync over the
    // handlers' HasSynced): what several sources report of one object at start-up is one pending key, one reconcile.
    yield* Effect.forEach(
      options.watches,
      (source) =>
        Effect.gen(function* () {
          const { initial, changes } = yield* source.subscribe
          yield* Effect.forEach(initial, queue.add, { discard: true })
          yield* Effect.forkScoped(Stream.runForEach(changes, queue.add))
        }),
      { concurrency: "unbounded", discard: true },
    )
    if (options.resync !== undefined) {
      yield* Effect.forkScoped(
        Effect.sleep(options.resync).pipe(Effect.andThen(enqueueAll(queue)), Effect.repeat(Schedule.forever)),
      )
    }
    // Workers are detached so that stopping the controller lets in-flight reconciles finish
    // (up to `shutdownGrace`) instead of cutting them mid-write.
    const workers: Array<Fiber.Fiber<void>> = []
    for (let i = 0; i < concurrency; i++) workers.push(yield* Effect.forkDetach(worker(queue)))
    // Stopped while this process may still write (a shutdown): in-flight reconciles finish, up to the grace. Stopped
    // because leadership was lost: they are cut at once, since another replica may already be acting.
    const fence = yield* LeadershipFence
    yield* Effect.addFinalizer(() =>
      queue.shutdown.pipe(
        Effect.andThen(
          Effect.flatMap(fence.held, (held) =>
            held ? Effect.timeoutOption(Fiber.awaitAll(workers), grace) : Effect.void,
          ),
        ),
        Effect.andThen(Fiber.interruptAll(workers)),
        Effect.andThen(Effect.sync(() => (synced = false))),
        Effect.andThen(Effect.logInfo("controller stopped")),
      ),
    )
    synced = true
    yield* Effect.logInfo("controller started", { workers: concurrency })
    return yield* Effect.never
  }).pipe(Effect.scoped, Effect.annotateLogs({ controller: name }))

  return { name, run, isSynced: Effect.sync(() => synced) }
}
