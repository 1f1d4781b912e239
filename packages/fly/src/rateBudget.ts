import { Clock, Context, Effect, Layer } from "effect"
import type { Endpoint } from "./endpoint.ts"

export interface BucketLimit {
  readonly perSecond: number
  readonly burst: number
}

export interface RateLimits {
  readonly default: BucketLimit
  readonly byEndpoint: Partial<Record<Endpoint, BucketLimit>>
}

/**
 * Fly's published limits (1 req/s burst 3 per action and machine, app or (for App creation) org; Get Machine 5 req/s
 * burst 10), less one token of burst: requests sent a second apart can arrive closer together (a slow first one, a
 * fast second), and Fly counts arrivals. With the 5 % rate headroom below, neither kind of jitter provokes a 429.
 */
export const flyRateLimits: RateLimits = {
  default: { perSecond: 1, burst: 2 },
  byEndpoint: { getMachine: { perSecond: 5, burst: 9 } },
}

interface Bucket {
  readonly endpoint: Endpoint
  tokens: number
  updatedAt: number
}

/**
 * Requests reach Fly with a few milliseconds of jitter (a new connection, a busy event loop): spaced exactly at Fly's
 * rate, two in a row can arrive closer than it allows, and the second gets a 429. The budget refills this much slower.
 */
const HEADROOM = 1.05

const millisPerToken = (limit: BucketLimit) => (1000 * HEADROOM) / limit.perSecond

/** Buckets idle long enough to be full again are forgotten once there are this many. */
const sweepThreshold = 1024

/**
 * A token bucket per (action, app name, machine id or org), so the operator stays under Fly's limits
 * instead of provoking 429s. `take` never fails: it waits until the request may go. Tokens are
 * reserved before waiting (the balance goes negative), so concurrent callers queue fairly.
 */
export class RateBudget extends Context.Service<
  RateBudget,
  {
    take(endpoint: Endpoint, key: string): Effect.Effect<void>
  }
>()("@fly-tunnel-operator/fly/RateBudget") {
  static readonly make = (limits: RateLimits) =>
    Effect.sync(() => {
      const buckets = new Map<string, Bucket>()
      const limitOf = (endpoint: Endpoint) => limits.byEndpoint[endpoint] ?? limits.default

      const refill = (bucket: Bucket, limit: BucketLimit, now: number) => {
        bucket.tokens = Math.min(limit.burst, bucket.tokens + (now - bucket.updatedAt) / millisPerToken(limit))
        bucket.updatedAt = now
      }

      const sweep = (now: number) => {
        for (const [id, bucket] of buckets) {
          const limit = limitOf(bucket.endpoint)
          refill(bucket, limit, now)
          if (bucket.tokens >= limit.burst) buckets.delete(id)
        }
      }

      const reserve = (endpoint: Endpoint, key: string, now: number): number => {
        const limit = limitOf(endpoint)
        const id = `${endpoint} ${key}`
        if (buckets.size >= sweepThreshold) sweep(now)
        const bucket = buckets.get(id) ?? { endpoint, tokens: limit.burst, updatedAt: now }
        buckets.set(id, bucket)
        refill(bucket, limit, now)
        bucket.tokens -= 1
        return bucket.tokens >= 0 ? 0 : Math.ceil(-bucket.tokens * millisPerToken(limit))
      }

      return RateBudget.of({
        take: (endpoint, key) =>
          Clock.currentTimeMillis.pipe(
            Effect.map((now) => reserve(endpoint, key, now)),
            Effect.flatMap((waitMillis) => (waitMillis > 0 ? Effect.sleep(waitMillis) : Effect.void)),
          ),
      })
    })

  static readonly layerWith = (limits: RateLimits) => Layer.effect(RateBudget, RateBudget.make(limits))

  /** The live budget at Fly's limits. */
  static readonly layer = RateBudget.layerWith(flyRateLimits)

  /** No client-side budget: for tests that want to see Fly's own 429s. */
  static readonly layerUnlimited = Layer.succeed(RateBudget, RateBudget.of({ take: () => Effect.void }))
}
