import { Clock, Context, Duration, Effect, Layer, Option } from "effect"

const FIRST_WAIT = Duration.seconds(30)
const LONGEST_WAIT = Duration.minutes(10)

/**
 * When Fly has no capacity for a tunnel's Machine, the next try waits: 30 seconds, then twice as long each time, up to
 * 10 minutes. A region out of capacity stays so for minutes, and asking again at once would be a retry storm against
 * Fly's limits. The wait is decided here, not by when the tunnel happens to be reconciled next (a resync, an event),
 * so nothing asks Fly early. Kept in memory: a restarted operator tries once more at once, then waits again.
 */
export interface CapacityWait {
  readonly wait: Duration.Duration
  /** What Fly said when it refused. */
  readonly message: string
}

export class CapacityBackoff extends Context.Service<
  CapacityBackoff,
  {
    /** How long this tunnel must still wait before asking Fly for a Machine, and Fly's refusal; None: ask now. */
    readonly remaining: (tunnelUid: string) => Effect.Effect<Option.Option<CapacityWait>>
    /** Fly refused for capacity, saying `message`: the next wait starts now, twice the last one. */
    readonly refused: (tunnelUid: string, message: string) => Effect.Effect<CapacityWait>
    /** A Machine could be made: no more waiting. */
    readonly cleared: (tunnelUid: string) => Effect.Effect<void>
  }
>()("@fly-tunnel-operator/operator/tunnel/CapacityBackoff") {
  static readonly layer: Layer.Layer<CapacityBackoff> = Layer.sync(CapacityBackoff, () => {
    const waits = new Map<string, CapacityWait & { readonly until: number }>()
    return CapacityBackoff.of({
      remaining: (tunnelUid) =>
        Effect.map(Clock.currentTimeMillis, (now) => {
          const entry = waits.get(tunnelUid)
          return entry === undefined || entry.until <= now
            ? Option.none()
            : Option.some({ wait: Duration.millis(entry.until - now), message: entry.message })
        }),
      refused: (tunnelUid, message) =>
        Effect.map(Clock.currentTimeMillis, (now) => {
          const previous = waits.get(tunnelUid)?.wait
          const wait = previous === undefined ? FIRST_WAIT : Duration.min(Duration.times(previous, 2), LONGEST_WAIT)
          waits.set(tunnelUid, { until: now + Duration.toMillis(wait), wait, message })
          return { wait, message }
        }),
      cleared: (tunnelUid) => Effect.sync(() => void waits.delete(tunnelUid)),
    })
  })
}
