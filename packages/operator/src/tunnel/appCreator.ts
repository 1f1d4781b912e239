// Fly limits App creation per org (1 a second after a burst of 3), so 200 new tunnels get their Apps over some 200
// seconds. A reconcile that slept on that budget would hold a worker all along, and the tunnels already provisioned
// would queue behind it. So Apps are created here, off the workers, in the order tunnels asked: each create takes
// its token from the client's budget right before it goes (as Fly counts it: by when it arrives), and the tunnel is
// woken with the answer. A tunnel first in line waits for its answer in place, which costs no extra pass.
import { type CreateAppRequest, type CreateAppResponse, FlyClient, type FlyError } from "@fly-tunnel-operator/fly"
import { Context, Deferred, Effect, type Exit, Option, Queue, type Scope } from "effect"
import * as Source from "../controller/source.ts"

/** Creates in flight at once: the budget spaces them anyway; more than one keeps a slow answer from stalling the line. */
const CREATORS = 3
/** How long the tunnel first in line waits in its reconcile for the answer before it lets the worker go. */
const WAIT_IN_PLACE = "2 seconds"

/** What became of a tunnel's create: the answer, or still in line (the tunnel is woken when it has one). */
export type AppCreation =
  | { readonly _tag: "Answered"; readonly answer: Exit.Exit<CreateAppResponse, FlyError> }
  | { readonly _tag: "Queued" }

interface Request {
  readonly key: string
  readonly body: CreateAppRequest
  readonly answer: Deferred.Deferred<CreateAppResponse, FlyError>
  /** Sent to Fly: from then on it may land, whatever becomes of the tunnel. */
  sent: boolean
}

export class AppCreator extends Context.Service<
  AppCreator,
  {
    /** Keys of tunnels whose answer came, for the controller's queue. */
    readonly source: Source.Source
    /** The answer to this tunnel's create (asked for now if it has not been), or that it is still in line. */
    readonly create: (key: string, body: CreateAppRequest) => Effect.Effect<AppCreation>
    /** Whether the tunnel's create is in line or answered and not yet read. */
    readonly asked: (key: string) => Effect.Effect<boolean>
    /**
     * The tunnel is gone: drop its request or its unread answer. A create already sent is waited for, answered or
     * failed, so that a teardown that looks for the App next cannot miss one that lands just after it looked.
     */
    readonly forget: (key: string) => Effect.Effect<void>
  }
>()("@fly-tunnel-operator/operator/tunnel/AppCreator") {
  /** Lives as long as the controller that uses it (its scope). */
  static readonly make: Effect.Effect<AppCreator["Service"], never, FlyClient | Scope.Scope> = Effect.gen(function* () {
    const fly = yield* FlyClient
    const line = yield* Queue.unbounded<Request>()
    const woken = yield* Queue.unbounded<string>()
    const requests = new Map<string, Request>()
    let waiting = 0

    const serve = Effect.forever(
      Effect.gen(function* () {
        const request = yield* Queue.take(line)
        waiting--
        // A tunnel deleted while in line takes no token.
        if (requests.get(request.key) !== request) return
        request.sent = true
        const exit = yield* Effect.exit(fly.createApp(request.body))
        yield* Deferred.done(request.answer, exit)
        yield* Queue.offer(woken, request.key)
      }),
    )
    for (let i = 0; i < CREATORS; i++) yield* Effect.forkScoped(serve)

    return AppCreator.of({
      source: Source.fromQueue(woken),
      create: (key, body) =>
        Effect.gen(function* () {
          let request = requests.get(key)
          const ahead = waiting
          if (request === undefined) {
            request = { key, body, answer: yield* Deferred.make<CreateAppResponse, FlyError>(), sent: false }
            requests.set(key, request)
            waiting++
            yield* Queue.offer(line, request)
          }
          if (ahead > 0 && !(yield* Deferred.isDone(request.answer))) return { _tag: "Queued" } as const
          const answer = yield* Deferred.await(request.answer).pipe(Effect.exit, Effect.timeoutOption(WAIT_IN_PLACE))
          if (Option.isNone(answer)) return { _tag: "Queued" } as const
          requests.delete(key)
          return { _tag: "Answered", answer: answer.value } as const
        }),
      asked: (key) => Effect.sync(() => requests.has(key)),
      forget: (key) =>
        Effect.gen(function* () {
          const request = requests.get(key)
          requests.delete(key)
          if (request?.sent) yield* Deferred.await(request.answer).pipe(Effect.exit, Effect.asVoid)
        }),
    })
  })
}
