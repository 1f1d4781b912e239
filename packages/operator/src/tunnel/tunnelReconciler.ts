import { decodeFlyTunnel, FINALIZER, Reasons } from "@fly-tunnel-operator/api"
import { Duration, Effect, Option } from "effect"
import { done, type ReconcileResult, requeueAfter, retry } from "../controller/reconcileResult.ts"
import { EventRecorder } from "../kube/eventRecorder.ts"
import { KubeCache } from "../kube/kubeCache.ts"
import { addFinalizer } from "../kube/kubeClient.ts"
import { kubeTimeNow } from "../kube/kubeTime.ts"
import { FlyTunnel, parseKey } from "../kube/resourceType.ts"
import { ensureAdoptedApp } from "./appAdoption.ts"
import { CapacityBackoff } from "./capacityBackoff.ts"
import { ensureAddresses, publishedAddresses } from "./flyAddress.ts"
import { ensureFlyApp } from "./flyApp.ts"
import { ensureMachines } from "./flyMachines.ts"
import { checkRegions } from "./flyRegions.ts"
import { ensureFlySecret } from "./flySecret.ts"
import { ensureClient } from "./frpcClient.ts"
import { removeGoOperatorClient } from "./goOperatorClient.ts"
import { invalidSpec, isTunnelBlocked, TunnelBlocked } from "./tunnelBlocked.ts"
import type { TunnelIdentity } from "./tunnelNames.ts"
import { newToken, readTunnelSecret, secretContent, writeTunnelSecret } from "./tunnelSecret.ts"
import { isReady, type Observations, tunnelStatus } from "./tunnelStatus.ts"
import { writeTunnelStatus } from "./tunnelStatusWriter.ts"
import { resolveTarget } from "./tunnelTarget.ts"
import { finalizeTunnel } from "./tunnelTeardown.ts"

/** While provisioning, how soon to look again (Machines start and frpc connects within seconds). */
const PROGRESS_INTERVAL = "2 seconds"

/** Runs a step, turning its TunnelBlocked into an observation instead of a failure of the whole reconcile. */
const attempt = <A, E, R>(
  blocked: Array<TunnelBlocked>,
  step: Effect.Effect<A, E | TunnelBlocked, R>,
): Effect.Effect<Option.Option<A>, Exclude<E, TunnelBlocked>, R> =>
  step.pipe(
    Effect.map(Option.some),
    Effect.catchIf<E | TunnelBlocked, TunnelBlocked, Option.Option<A>, never, never>(isTunnelBlocked, (error) =>
      Effect.sync(() => {
        blocked.push(error)
        return Option.none<A>()
      }),
    ),
  )

/**
 * The Tunnel controller's reconcile: reads the FlyTunnel from the cache, converges Fly (App, token secret, Machines
 * and IPv4 in parallel) and the cluster (frpc), then writes what it saw as status. Every step looks before it
 * creates, so a crash or a lost answer at any point is repaired by the next pass without duplicates.
 */
export const reconcileTunnel = Effect.fn("reconcileTunnel")(function* (key: string) {
  const cache = yield* KubeCache
  const capacity = yield* CapacityBackoff
  const events = yield* EventRecorder
  const { namespace = "", name } = parseKey(key)
  const found = yield* cache.tunnels.get(name, namespace)
  if (Option.isNone(found)) return done
  let tunnel = found.value
  const identity: TunnelIdentity = { namespace, name, uid: tunnel.metadata?.uid ?? "" }
  if (tunnel.metadata?.deletionTimestamp !== undefined) return yield* finalizeTunnel(tunnel, identity)

  const generation = tunnel.metadata?.generation ?? 0
  const decoded = yield* Effect.result(decodeFlyTunnel(tunnel))
  if (decoded._tag === "Failure") {
    // Admission should have refused it; if not, say which field and provision nothing.
    const invalid = invalidSpec(decoded.failure.message)
    yield* writeTunnelStatus(
      tunnel,
      tunnelStatus({ generation, blocked: [invalid] }, tunnel.status, yield* kubeTimeNow),
    )
    yield* events.record(tunnel, { type: "Warning", reason: Reasons.InvalidSpec, message: invalid.message })
    return done
  }
  const spec = decoded.success.spec
  tunnel = yield* addFinalizer(FlyTunnel, tunnel, FINALIZER)

  // The token: kept while the Secret holds one; a missing or emptied one is replaced, and the new one is stored
  // before Fly or frpc ever see it.
  let secret = yield* readTunnelSecret(identity)
  const current = Option.map(secret, secretContent)
  const stored = Option.match(current, { onNone: () => "", onSome: (content) => content.token })
  const token = stored === "" ? newToken() : stored
  if (stored === "") {
    const configs = Option.match(current, { onNone: () => ({}), onSome: (content) => content.configs })
    secret = Option.some(yield* writeTunnelSecret(identity, secret, { token, configs }))
  }

  const blocked: Array<TunnelBlocked> = []
  // A region Fly does not have is refused before anything of the tunnel is created.
  const regionsKnown = yield* attempt(blocked, checkRegions(spec.regions))
  // spec.adopt: an App this tunnel takes over instead of making its own (appAdoption.ts).
  const adopt = spec.adopt
  const app = Option.isNone(regionsKnown)
    ? Option.none()
    : yield* attempt(blocked, adopt === undefined ? ensureFlyApp(identity) : ensureAdoptedApp(identity, tunnel, adopt))
  let observations: Observations = { generation, spec, blocked, ...(Option.isSome(app) ? { app: app.value } : {}) }
  // After Fly had no capacity, the Machines wait their turn; what already runs keeps running.
  const capacityWait = yield* capacity.remaining(identity.uid)
  if (Option.isSome(app)) {
    const adopted = adopt !== undefined
    const pushed = yield* attempt(blocked, ensureFlySecret(identity, token, app.value, tunnel.status?.app, adopted))
    // The adopted App's address is the one it holds: published from the start, so none other is ever allocated.
    const published = publishedAddresses(tunnel.status)
    const [machines, address] = yield* Effect.all(
      [
        Option.isSome(pushed) && Option.isNone(capacityWait)
          ? attempt(blocked, ensureMachines(identity, spec, app.value, pushed.value, adopted))
          : Effect.succeedNone,
        // Nothing changes on an adopted App before it carries the marks that let teardown remove what was changed.
        adopted && Option.isNone(pushed)
          ? Effect.succeedNone
          : attempt(
              blocked,
              ensureAddresses(app.value, {
                ipv6: spec.ipv6,
                published:
                  adopt === undefined || published.v4 !== undefined ? published : { ...published, v4: adopt.ipv4 },
              }),
            ),
      ],
      { concurrency: 2 },
    )
    if (adopt !== undefined && Option.isSome(pushed) && tunnel.status?.app?.id !== app.value.id)
      yield* events.record(tunnel, {
        type: "Normal",
        reason: Reasons.AppAdopted,
        message: `took over Fly App ${app.value.name}, keeping its IPv4 ${adopt.ipv4}; its Machines are replaced`,
      })
    // The Go operator's frpc dials the adopted address, where it is refused now: it goes once the App is ours. Looked
    // for until the tunnel is Ready (a read per pass), then never again.
    if (adopt !== undefined && Option.isSome(pushed) && !isReady(tunnel.status)) {
      const removed = yield* attempt(blocked, removeGoOperatorClient(adopt.ipv4))
      if (Option.isSome(removed) && removed.value.length > 0)
        yield* events.record(tunnel, {
          type: "Normal",
          reason: Reasons.AppAdopted,
          message: `removed the Go operator's frpc of ${adopt.app}: ${removed.value.join(", ")}`,
        })
    }
    observations = {
      ...observations,
      ...(Option.isSome(pushed) ? { token: pushed.value } : {}),
      ...(Option.isSome(machines) ? { machines: machines.value } : {}),
      ...(Option.isSome(address) ? { address: address.value.v4 } : {}),
      ...(Option.isSome(address) && address.value.v6 !== undefined ? { ipv6: address.value.v6 } : {}),
    }
    if (Option.isSome(machines) && Option.isSome(address)) {
      const target = yield* attempt(blocked, resolveTarget(namespace, spec))
      if (Option.isSome(target)) {
        const rolledOut = yield* ensureClient(
          identity,
          spec,
          { token, secret },
          address.value.v4,
          machines.value,
          target.value,
        )
        observations = { ...observations, clientRolledOut: rolledOut }
      }
    }
  }

  // No capacity for a Machine: wait minutes (doubling, capped), not a retry storm, and say what waiting costs.
  const refused = blocked.findIndex((issue) => issue.reason === Reasons.FlyCapacity)
  const outOfCapacity = blocked[refused]
  const waiting = Option.isSome(capacityWait)
    ? capacityWait.value
    : outOfCapacity !== undefined
      ? yield* capacity.refused(identity.uid, outOfCapacity.message)
      : undefined
  if (waiting === undefined && observations.machines !== undefined) yield* capacity.cleared(identity.uid)
  if (waiting !== undefined) {
    const kept =
      observations.address === undefined
        ? ""
        : `; the dedicated IPv4 ${observations.address} is kept for it ($2/month) while it waits`
    const issue = new TunnelBlocked({
      condition: "MachinesReady",
      reason: Reasons.FlyCapacity,
      message: `${waiting.message}${kept}; next try in ${Duration.format(waiting.wait)} (another region or Machine size may have room)`,
      retry: true,
    })
    if (outOfCapacity === undefined) blocked.push(issue)
    else blocked[refused] = issue
  }
  const status = tunnelStatus(observations, tunnel.status, yield* kubeTimeNow)
  yield* writeTunnelStatus(tunnel, status)
  if (isReady(status) && !isReady(tunnel.status)) {
    yield* events.record(tunnel, {
      type: "Normal",
      reason: Reasons.Ready,
      message: `tunnel ready at ${observations.address}`,
    })
  }
  for (const issue of blocked)
    yield* events.record(tunnel, { type: "Warning", reason: issue.reason, message: issue.message })
  if (waiting !== undefined) return requeueAfter(waiting.wait)
  const soonest = Math.min(
    ...blocked.flatMap((issue) => (issue.retryAfterMillis === undefined ? [] : [issue.retryAfterMillis])),
  )
  if (Number.isFinite(soonest)) return requeueAfter(Duration.millis(soonest))
  if (blocked.some((issue) => issue.retry)) return retry
  if (blocked.length > 0 || isReady(status)) return done
  return requeueAfter(PROGRESS_INTERVAL) satisfies ReconcileResult
})
