// Kubernetes Events (core/v1) on the objects we act on, with stable reasons. Like client-go's
// recorder, a repeat of the same (object, type, reason, message) bumps `count` on the existing
// Event instead of creating a new one, and the bumps are written at most once per `patchInterval`,
// so a hot reconcile loop cannot flood the API server. Recording is best-effort: a failure is
// logged, never returned. Callers must not put secrets in messages.
import { Clock, Context, Duration, Effect, Layer, Struct } from "effect"
import { KubeClient } from "./kubeClient.ts"
import { CoreEvent, type KubeObject } from "./resourceType.ts"

export type EventType = "Normal" | "Warning"

export interface EventInput {
  readonly type: EventType
  /** CamelCase, stable: dashboards and alerts match on it. */
  readonly reason: string
  readonly message: string
  /** What was done (events.k8s.io `action`), e.g. "Provision"; defaults to the reason. */
  readonly action?: string | undefined
}

export interface EventRecorderOptions {
  /** `source.component` / `reportingComponent`. */
  readonly component: string
  /** `reportingInstance`, e.g. the Pod name. */
  readonly instance?: string | undefined
  /** Repeats within this window are folded into one Event. Default 10 minutes. */
  readonly window?: Duration.Input | undefined
  /** Minimum time between two writes of one folded Event. Default 30 seconds. */
  readonly patchInterval?: Duration.Input | undefined
}

interface Seen {
  readonly name: string
  readonly namespace: string
  count: number
  lastWriteMillis: number
  lastSeenMillis: number
}

const maxMessageLength = 1024
const maxTracked = 4096

export class EventRecorder extends Context.Service<
  EventRecorder,
  {
    readonly record: (object: KubeObject, event: EventInput) => Effect.Effect<void>
  }
>()("@fly-tunnel-operator/operator/kube/EventRecorder") {
  static readonly layer = (options: EventRecorderOptions): Layer.Layer<EventRecorder, never, KubeClient> =>
    Layer.effect(EventRecorder, make(options))

  /** Records into an array instead of the API server, for tests of code that emits events. */
  static readonly layerTest = (recorded: Array<{ readonly object: KubeObject; readonly event: EventInput }>) =>
    Layer.succeed(
      EventRecorder,
      EventRecorder.of({ record: (object, event) => Effect.sync(() => void recorded.push({ object, event })) }),
    )
}

const timestamp = (millis: number): string => new Date(millis).toISOString().replace(/\.\d{3}Z$/, "Z")

const make = Effect.fnUntraced(function* (options: EventRecorderOptions) {
  const client = yield* KubeClient
  const window = Duration.toMillis(Duration.fromInputUnsafe(options.window ?? Duration.minutes(10)))
  const patchInterval = Duration.toMillis(Duration.fromInputUnsafe(options.patchInterval ?? Duration.seconds(30)))
  const seen = new Map<string, Seen>()

  const write = Effect.fnUntraced(function* (object: KubeObject, event: EventInput, now: number) {
    const metadata = object.metadata ?? {}
    const namespace = metadata.namespace ?? "default"
    const message =
      event.message.length > maxMessageLength ? `${event.message.slice(0, maxMessageLength - 1)}…` : event.message
    const key = [metadata.uid ?? `${namespace}/${metadata.name}`, event.type, event.reason, message].join("\u0000")
    const previous = seen.get(key)

    if (previous !== undefined && now - previous.lastSeenMillis <= window) {
      previous.count++
      previous.lastSeenMillis = now
      if (now - previous.lastWriteMillis < patchInterval) return
      previous.lastWriteMillis = now
      const patched = yield* Effect.exit(
        client.mergePatch(CoreEvent, previous.name, previous.namespace, {
          count: previous.count,
          lastTimestamp: timestamp(now),
        }),
      )
      if (patched._tag === "Success") return
      // The Event expired or was deleted: start a new one below.
      seen.delete(key)
    }

    const name = `${metadata.name ?? "object"}.${now.toString(16)}${Math.floor(Math.random() * 0xffff).toString(16)}`
    yield* client.create(CoreEvent, {
      apiVersion: "v1",
      kind: "Event",
      metadata: { name, namespace },
      involvedObject: {
        ...Struct.pick(object, ["apiVersion", "kind"]),
        ...Struct.pick(metadata, ["name", "namespace", "uid", "resourceVersion"]),
      },
      type: event.type,
      reason: event.reason,
      message,
      action: event.action ?? event.reason,
      count: 1,
      firstTimestamp: new Date(now),
      lastTimestamp: new Date(now),
      source: { component: options.component },
      reportingComponent: options.component,
      reportingInstance: options.instance ?? options.component,
    })
    if (seen.size >= maxTracked) {
      const oldest = seen.keys().next()
      if (!oldest.done) seen.delete(oldest.value)
    }
    seen.set(key, {
      name,
      namespace,
      count: 1,
      lastWriteMillis: now,
      lastSeenMillis: now,
    })
  })

  const record = (object: KubeObject, event: EventInput) =>
    Clock.currentTimeMillis.pipe(
      Effect.flatMap((now) => write(object, event, now)),
      Effect.catch((error) =>
        Effect.logWarning("could not record event", { reason: event.reason, error: error.message }),
      ),
      Effect.withSpan("EventRecorder.record"),
    )

  return EventRecorder.of({ record })
})
