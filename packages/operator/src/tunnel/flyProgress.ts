// What a tunnel in progress waits for on Fly, watched off the workers: the reconcile asks, returns, and its key comes
// back the moment there is something new to see. A Machine reaching `started` is awaited with Fly's own wait; checks
// turning passing have no wait on Fly, so they are polled — quickly at first, slower the longer it takes, and only
// while the tunnel waits for them. (frpc's rollout needs nothing here: the Deployment informer reports it.)
import { FlyClient } from "@fly-tunnel-operator/fly"
import { Context, Effect, FiberMap, Queue, Schedule, type Scope } from "effect"
import * as Source from "../controller/source.ts"
import { portsNotPassing } from "./tunnelStatus.ts"

/** Fly's longest wait. A wait that ends without the state (408) just wakes the tunnel, which asks again. */
const WAIT_SECONDS = 60
/** After a failed wait or poll (the Machine gone, Fly unreachable), before the tunnel looks again. */
const AFTER_FAILURE = "1 second"
/**
 * Checks: polled every 250 ms for the first 4 s (about Fly's limit of 5 reads a second per Machine; Fly probes a port
 * every second), then backing off to every 10 s for a tunnel that takes longer (frpc cannot connect, say).
 */
const checksPolling = Schedule.concat(
  Schedule.spaced("250 millis").pipe(Schedule.upTo({ times: 16 })),
  Schedule.min([Schedule.exponential("500 millis", 1.5), Schedule.spaced("10 seconds")]),
)

export interface AwaitedMachine {
  readonly id: string
  /** The version the wait is for (an update makes a new one). */
  readonly version: string
}

export class FlyProgress extends Context.Service<
  FlyProgress,
  {
    /** Keys of tunnels whose awaited state arrived, for the controller's queue. */
    readonly source: Source.Source
    /** Wakes the tunnel once every one of these Machines is `started` (or a wait gave up). */
    readonly awaitStarted: (key: string, app: string, machines: ReadonlyArray<AwaitedMachine>) => Effect.Effect<void>
    /**
     * Wakes the tunnel once Fly reports every awaited port passing on one of these Machines: progress, not the end.
     * During a rollout one of them may pass only after the tunnel's next step (an outdated Machine whose frpc already
     * dials its new config), so waiting for all of them would leave each step to the safety net.
     */
    readonly awaitChecks: (
      key: string,
      app: string,
      machines: ReadonlyArray<{ readonly id: string; readonly ports: ReadonlyArray<number> }>,
    ) => Effect.Effect<void>
    /** Nothing to wait for any more (Ready, deleted): stops its watches. */
    readonly forget: (key: string) => Effect.Effect<void>
  }
>()("@fly-tunnel-operator/operator/tunnel/FlyProgress") {
  /** Lives as long as the controller that uses it (its scope): stopping the controller stops every watch. */
  static readonly make: Effect.Effect<FlyProgress["Service"], never, FlyClient | Scope.Scope> = Effect.gen(
    function* () {
      const fly = yield* FlyClient
      const woken = yield* Queue.unbounded<string>()
      const watches = yield* FiberMap.make<string>()
      const wake = (key: string) => Queue.offer(woken, key)
      const watch = (kind: "started" | "checks", key: string, effect: Effect.Effect<void, unknown>) =>
        FiberMap.run(watches, `${kind} ${key}`, { onlyIfMissing: true })(
          effect.pipe(
            Effect.catch(() => Effect.sleep(AFTER_FAILURE)),
            Effect.andThen(wake(key)),
          ),
        ).pipe(Effect.asVoid)

      return FlyProgress.of({
        source: Source.fromQueue(woken),
        awaitStarted: (key, app, machines) =>
          watch(
            "started",
            key,
            Effect.forEach(
              machines,
              (machine) =>
                fly
                  .waitMachine(app, machine.id, {
                    state: "started",
                    timeoutSeconds: WAIT_SECONDS,
                    version: machine.version,
                  })
                  .pipe(Effect.catchTag("FlyTimeout", () => Effect.void)),
              { concurrency: "unbounded", discard: true },
            ),
          ),
        awaitChecks: (key, app, awaited) =>
          watch(
            "checks",
            key,
            Effect.forEach(
              awaited,
              (entry) =>
                Effect.map(
                  fly.getMachine(app, entry.id),
                  (machine) => portsNotPassing(machine, entry.ports).length === 0,
                ),
              { concurrency: "unbounded" },
            ).pipe(
              Effect.map((passing) => passing.some(Boolean)),
              Effect.repeat({ schedule: checksPolling, until: (passing) => passing }),
            ),
          ),
        forget: (key) =>
          Effect.all([FiberMap.remove(watches, `started ${key}`), FiberMap.remove(watches, `checks ${key}`)], {
            discard: true,
          }),
      })
    },
  )
}
