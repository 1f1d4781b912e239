// Leader election on a coordination.k8s.io/v1 Lease, after client-go's leaderelection package:
// a candidate takes the Lease when it is free or when its holder has not renewed it for
// `leaseDuration` (measured on our clock from when we last saw the record change, so clock skew
// between replicas does not matter); the leader renews every `retryPeriod` and steps down when
// it could not renew for `renewDeadline`. Writes are PUTs conditional on resourceVersion, so two
// candidates can never both win one round.
import { type V1Lease, V1MicroTime } from "@kubernetes/client-node"
import { Clock, Duration, Effect, Option, Schedule } from "effect"
import { KubeClient } from "./kubeClient.ts"
import type { KubeError } from "./kubeErrors.ts"
import { Lease } from "./resourceType.ts"

export interface LeaderElectionOptions {
  readonly name: string
  readonly namespace: string
  /** Unique per replica, e.g. the Pod name. */
  readonly identity: string
  readonly leaseDuration?: Duration.Input | undefined
  readonly renewDeadline?: Duration.Input | undefined
  readonly retryPeriod?: Duration.Input | undefined
}

/** A MicroTime (microsecond RFC 3339), as Lease times are written. */
const microTime = (millis: number): V1MicroTime => new V1MicroTime(millis)

const settings = (options: LeaderElectionOptions) => ({
  leaseDuration: Duration.fromInputUnsafe(options.leaseDuration ?? Duration.seconds(15)),
  renewDeadline: Duration.fromInputUnsafe(options.renewDeadline ?? Duration.seconds(10)),
  retryPeriod: Duration.fromInputUnsafe(options.retryPeriod ?? Duration.seconds(2)),
})

/**
 * One term: campaigns until this replica leads, runs `whileLeader` while it keeps the Lease, and
 * returns when leadership is lost (after interrupting `whileLeader`) or when `whileLeader` ends.
 * Interrupting it (shutdown) stops `whileLeader` first, then releases the Lease so another replica
 * takes over at once instead of after `leaseDuration`.
 */
export const runTerm = <A, E, R>(
  options: LeaderElectionOptions,
  whileLeader: Effect.Effect<A, E, R>,
): Effect.Effect<Option.Option<A>, E, R | KubeClient> =>
  Effect.gen(function* () {
    const client = yield* KubeClient
    const { leaseDuration, renewDeadline, retryPeriod } = settings(options)
    const leaseSeconds = Math.max(1, Math.round(Duration.toSeconds(leaseDuration)))
    let observed: { resourceVersion: string | undefined; at: number } | undefined
    let leading = false

    const observe = (lease: V1Lease, now: number) => {
      const resourceVersion = lease.metadata?.resourceVersion
      if (observed === undefined || observed.resourceVersion !== resourceVersion)
        observed = { resourceVersion, at: now }
    }

    /** client-go's tryAcquireOrRenew: true when we hold the Lease after this call. */
    const tryAcquireOrRenew: Effect.Effect<boolean, KubeError> = Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      const current = yield* client.get(Lease, options.name, options.namespace).pipe(
        Effect.map(Option.some),
        Effect.catchTag("KubeNotFound", () => Effect.succeedNone),
      )
      if (Option.isNone(current)) {
        const created = yield* client.create(Lease, {
          metadata: { name: options.name, namespace: options.namespace },
          spec: {
            holderIdentity: options.identity,
            leaseDurationSeconds: leaseSeconds,
            acquireTime: microTime(now),
            renewTime: microTime(now),
            leaseTransitions: 0,
          },
        })
        observe(created, now)
        return true
      }
      const lease = current.value
      observe(lease, now)
      const holder = lease.spec?.holderIdentity ?? ""
      const heldByUs = holder === options.identity
      const duration = (lease.spec?.leaseDurationSeconds ?? leaseSeconds) * 1000
      if (!heldByUs && holder !== "" && (observed?.at ?? now) + duration > now) return false
      const updated = yield* client.replace(Lease, {
        ...lease,
        spec: {
          ...lease.spec,
          holderIdentity: options.identity,
          leaseDurationSeconds: leaseSeconds,
          renewTime: microTime(now),
          acquireTime: heldByUs ? (lease.spec?.acquireTime ?? microTime(now)) : microTime(now),
          leaseTransitions: (lease.spec?.leaseTransitions ?? 0) + (heldByUs ? 0 : 1),
        },
      })
      observe(updated, now)
      return true
    })

    const attempt = tryAcquireOrRenew.pipe(
      Effect.catch((error) => Effect.logDebug("lease attempt failed", { error: error.message }).pipe(Effect.as(false))),
    )

    const release = Effect.gen(function* () {
      if (!leading) return
      const now = yield* Clock.currentTimeMillis
      const lease = yield* client.get(Lease, options.name, options.namespace)
      if (lease.spec?.holderIdentity !== options.identity) return
      yield* client.replace(Lease, {
        ...lease,
        spec: {
          ...lease.spec,
          holderIdentity: "",
          leaseDurationSeconds: 1,
          renewTime: microTime(now),
          acquireTime: microTime(now),
        },
      })
      yield* Effect.logInfo("released leadership")
    }).pipe(Effect.catch((error) => Effect.logWarning("could not release the lease", { error: error.message })))

    // Campaign: try every retryPeriod (jittered, as client-go's wait.JitterUntil) until we hold it.
    yield* attempt.pipe(
      Effect.repeat({ schedule: Schedule.spaced(retryPeriod).pipe(Schedule.jittered), until: (held) => held }),
    )
    leading = true
    yield* Effect.logInfo("became leader")

    // Renew: each round retries every retryPeriod until it succeeds or renewDeadline passes.
    const renewRound = attempt.pipe(
      Effect.repeat({ schedule: Schedule.spaced(retryPeriod), until: (held) => held }),
      Effect.timeoutOption(renewDeadline),
    )
    const keepLeading = Effect.gen(function* () {
      while (true) {
        yield* Effect.sleep(retryPeriod)
        const renewed = yield* renewRound
        if (Option.isNone(renewed)) return
      }
    })

    return yield* Effect.raceFirst(
      whileLeader.pipe(Effect.map(Option.some)),
      keepLeading.pipe(
        Effect.andThen(Effect.logWarning("lost leadership")),
        Effect.andThen(Effect.sync(() => (leading = false))),
        Effect.as(Option.none<A>()),
      ),
    ).pipe(Effect.ensuring(release))
  }).pipe(Effect.annotateLogs({ lease: `${options.namespace}/${options.name}`, identity: options.identity }))

/**
 * Runs `whileLeader` only while this replica leads, forever: after losing the Lease it stops
 * `whileLeader` and campaigns again, restarting `whileLeader` from scratch on the next term (our
 * controllers are level-based and rebuild their caches, so a fresh start is safe). Callers who
 * prefer client-go's usual "exit on loss" run `runTerm` once and end the process after it.
 */
export const run = <A, E, R>(
  options: LeaderElectionOptions,
  whileLeader: Effect.Effect<A, E, R>,
): Effect.Effect<never, E, R | KubeClient> => Effect.forever(runTerm(options, whileLeader))
