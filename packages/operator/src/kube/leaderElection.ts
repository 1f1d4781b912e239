// Leader election on a coordination.k8s.io/v1 Lease, after client-go's leaderelection package: a candidate takes the
// Lease when it is free or when its holder has not renewed it for `leaseDuration` (measured on our clock from when we
// last saw the record change, so clock skew between replicas does not matter); the leader renews every `retryPeriod`
// and steps down when it could not renew for `renewDeadline`. Writes are PUTs conditional on resourceVersion, so two
// candidates can never both win one round.
//
// Fenced: the leader's work may write to Fly and to the API server only until the start of its last successful renewal
// plus `renewDeadline` (see leadershipFence.ts). Since renewDeadline (10 s) is shorter than the leaseDuration (15 s) a
// successor waits, the 5 s between them is the time in-flight reconciles have to be cut, and every write checks the
// fence first — also the first write after a freeze (SIGSTOP) ends: nothing more is sent once the lease may have moved.
import { MutationGate } from "@fly-tunnel-operator/fly"
import { Clock, Deferred, Duration, Effect, Fiber, Option, Schedule } from "effect"
import { KubeClient } from "./kubeClient.ts"
import type { KubeError } from "./kubeErrors.ts"
import { kubeMicroTime } from "./kubeTime.ts"
import { fenceGate, fenceOf, LeadershipFence } from "./leadershipFence.ts"
import { Lease, type LeaseObject } from "./resourceType.ts"
import { WriteGate } from "./writeGate.ts"

export interface LeaderElectionOptions {
  readonly name: string
  readonly namespace: string
  /** Unique per replica, e.g. the Pod name. */
  readonly identity: string
  readonly leaseDuration?: Duration.Input | undefined
  readonly renewDeadline?: Duration.Input | undefined
  readonly retryPeriod?: Duration.Input | undefined
  /**
   * After taking over a lease its holder did not release (it died or froze), how long a billed create without a
   * natural key waits for that holder's requests still in flight to Fly to land: the Fly client's request timeout.
   */
  readonly settleAfterTakeover?: Duration.Input | undefined
  /**
   * Give the Lease up when interrupted (default true), as client-go's ReleaseOnCancel: a standby takes over at once.
   * False leaves it to expire, as a crash would.
   */
  readonly releaseOnCancel?: boolean | undefined
}

/**
 * client-go's defaults, but a retry period of 1 s: a standby then takes over within about a second of a graceful
 * release. renewDeadline + the time to cut in-flight work < leaseDuration.
 */
const settings = (options: LeaderElectionOptions) => ({
  leaseDuration: Duration.fromInputUnsafe(options.leaseDuration ?? Duration.seconds(15)),
  renewDeadline: Duration.fromInputUnsafe(options.renewDeadline ?? Duration.seconds(10)),
  retryPeriod: Duration.fromInputUnsafe(options.retryPeriod ?? Duration.seconds(1)),
  settleAfterTakeover: Duration.fromInputUnsafe(options.settleAfterTakeover ?? Duration.seconds(30)),
})

/**
 * One term: campaigns until this replica leads, then runs `whileLeader` behind the fence while the Lease is renewed.
 * - Leadership lost (renewal failed for `renewDeadline`): the fence has passed, `whileLeader` is interrupted at once
 *   (its in-flight writes are refused), and the term returns None.
 * - Interrupted (shutdown): `whileLeader` is stopped first while renewal goes on, so it may drain; then renewal stops
 *   and the Lease is released, so a standby takes over at once instead of after `leaseDuration`.
 */
export const runTerm = <A, E, R>(
  options: LeaderElectionOptions,
  whileLeader: Effect.Effect<A, E, R>,
): Effect.Effect<Option.Option<A>, E, R | KubeClient> =>
  Effect.gen(function* () {
    const client = yield* KubeClient
    const { leaseDuration, renewDeadline, retryPeriod, settleAfterTakeover } = settings(options)
    const leaseSeconds = Math.max(1, Math.round(Duration.toSeconds(leaseDuration)))
    let observed: { resourceVersion: string | undefined; at: number } | undefined
    let leading = false
    // The fence: writes may go out until validUntil (epoch ms, our clock).
    let validUntil = 0
    let settlingUntil = 0

    const observe = (lease: LeaseObject, now: number) => {
      const resourceVersion = lease.metadata?.resourceVersion
      if (observed === undefined || observed.resourceVersion !== resourceVersion)
        observed = { resourceVersion, at: now }
    }

    /** client-go's tryAcquireOrRenew: true when we hold the Lease after this call. */
    const tryAcquireOrRenew: Effect.Effect<boolean, KubeError> = Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      // From the API server, never a cache: the Lease is the lock, and the PUT below is conditional on its version.
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
            acquireTime: kubeMicroTime(now),
            renewTime: kubeMicroTime(now),
            leaseTransitions: 0,
          },
        })
        observe(created, now)
        validUntil = now + Duration.toMillis(renewDeadline)
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
          renewTime: kubeMicroTime(now),
          acquireTime: heldByUs ? (lease.spec?.acquireTime ?? kubeMicroTime(now)) : kubeMicroTime(now),
          leaseTransitions: (lease.spec?.leaseTransitions ?? 0) + (heldByUs ? 0 : 1),
        },
      })
      observe(updated, now)
      // Measured from when this attempt started: the API server saw the renewal no earlier than that.
      validUntil = now + Duration.toMillis(renewDeadline)
      // A holder that did not release may have left requests in flight to Fly.
      if (!heldByUs && holder !== "") settlingUntil = now + Duration.toMillis(settleAfterTakeover)
      return true
    })

    const attempt = tryAcquireOrRenew.pipe(
      Effect.catch((error) => Effect.logDebug("lease attempt failed", { error: error.message }).pipe(Effect.as(false))),
    )

    const release = Effect.gen(function* () {
      if (!leading || options.releaseOnCancel === false) return
      leading = false
      validUntil = 0
      const now = yield* Clock.currentTimeMillis
      const lease = yield* client.get(Lease, options.name, options.namespace)
      if (lease.spec?.holderIdentity !== options.identity) return
      yield* client.replace(Lease, {
        ...lease,
        spec: {
          ...lease.spec,
          holderIdentity: "",
          leaseDurationSeconds: 1,
          renewTime: kubeMicroTime(now),
          acquireTime: kubeMicroTime(now),
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
    const lost = yield* Deferred.make<void>()
    const keepLeading = Effect.gen(function* () {
      while (true) {
        yield* Effect.sleep(retryPeriod)
        const renewed = yield* renewRound
        if (Option.isNone(renewed)) {
          validUntil = 0
          leading = false
          yield* Effect.logWarning("lost leadership")
          return yield* Deferred.succeed(lost, undefined)
        }
      }
    })

    const fence = fenceOf({ validUntil: () => validUntil, settlingUntil: () => settlingUntil })
    const gate = fenceGate(fence)
    const renewer = yield* Effect.forkChild(keepLeading)
    const work = yield* Effect.forkChild(
      whileLeader.pipe(
        Effect.provideService(LeadershipFence, fence),
        Effect.provideService(WriteGate, gate),
        Effect.provideService(MutationGate, gate),
      ),
    )
    return yield* Effect.raceFirst(
      Fiber.join(work).pipe(Effect.map(Option.some)),
      Deferred.await(lost).pipe(Effect.as(Option.none<A>())),
    ).pipe(
      // The work first (on shutdown it drains while renewal goes on; after a loss it is cut short), then renewal,
      // then the Lease is given back.
      Effect.ensuring(Fiber.interrupt(work).pipe(Effect.andThen(Fiber.interrupt(renewer)), Effect.andThen(release))),
    )
  }).pipe(Effect.annotateLogs({ lease: `${options.namespace}/${options.name}`, identity: options.identity }))

/**
 * Runs `whileLeader` only while this replica leads, forever: after losing the Lease it stops `whileLeader` and
 * campaigns again, restarting `whileLeader` from scratch on the next term (the controllers are level-based and the
 * cache stays warm, so a fresh start is safe).
 */
export const run = <A, E, R>(
  options: LeaderElectionOptions,
  whileLeader: Effect.Effect<A, E, R>,
): Effect.Effect<never, E, R | KubeClient> => Effect.forever(runTerm(options, whileLeader))
