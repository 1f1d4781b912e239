import { Annotations, decodeFlyTunnel, FINALIZER, type FlyTunnelStatus, Reasons } from "@fly-tunnel-operator/api"
import { DateTime, Effect, Option } from "effect"
import { done, type ReconcileResult, requeueAfter, retry } from "../controller/reconcileResult.ts"
import { EventRecorder } from "../kube/eventRecorder.ts"
import { KubeClient } from "../kube/kubeClient.ts"
import * as ResourceType from "../kube/resourceType.ts"
import { ensureAddress } from "./flyAddress.ts"
import { ensureFlyApp } from "./flyApp.ts"
import { ensureMachines } from "./flyMachines.ts"
import { clientRolledOut, ensureClient } from "./frpcClient.ts"
import { TunnelBlocked } from "./tunnelBlocked.ts"
import type { TunnelIdentity } from "./tunnelNames.ts"
import { isReady, type Observations, tunnelStatus } from "./tunnelStatus.ts"
import { resolveTarget } from "./tunnelTarget.ts"
import { teardownTunnel } from "./tunnelTeardown.ts"
import { ensureTeardownStatus } from "./tunnelTeardownStatus.ts"
import { ensureFlySecret, ensureTokenSecret } from "./tunnelToken.ts"

/** A FlyTunnel as the API server has it: metadata we rely on, the rest decoded by the api package. */
export interface RawFlyTunnel extends ResourceType.KubeObject {
  readonly spec?: unknown
  readonly status?: FlyTunnelStatus
}

export const FlyTunnelType = ResourceType.FlyTunnel as ResourceType.ResourceType<RawFlyTunnel>

/** While provisioning, how soon to look again (Machines start and frpc connects within seconds). */
const PROGRESS_INTERVAL = "2 seconds"

const now = DateTime.now.pipe(Effect.map((time) => DateTime.formatIso(time).replace(/\.\d{3}Z$/, "Z")))

/** Runs a step, turning its TunnelBlocked into an observation instead of a failure of the whole reconcile. */
const attempt = <A, E, R>(
  blocked: Array<TunnelBlocked>,
  step: Effect.Effect<A, E | TunnelBlocked, R>,
): Effect.Effect<Option.Option<A>, Exclude<E, TunnelBlocked>, R> =>
  step.pipe(
    Effect.map(Option.some),
    Effect.catchIf(
      (error): error is TunnelBlocked => error instanceof TunnelBlocked,
      (error) =>
        Effect.sync(() => {
          blocked.push(error)
          return Option.none<A>()
        }),
    ),
  ) as Effect.Effect<Option.Option<A>, Exclude<E, TunnelBlocked>, R>

const finalize = Effect.fn("finalizeTunnel")(function* (tunnel: RawFlyTunnel, identity: TunnelIdentity) {
  const kube = yield* KubeClient
  const events = yield* EventRecorder
  if (!(tunnel.metadata?.finalizers ?? []).includes(FINALIZER)) return done
  const current = yield* ensureTeardownStatus(tunnel)
  const outcome = yield* Effect.result(teardownTunnel(identity))
  if (outcome._tag === "Failure") {
    const force = tunnel.metadata?.annotations?.[Annotations.forceDelete] === "true"
    yield* events.record(tunnel, {
      type: "Warning",
      reason: Reasons.DeleteFailed,
      message: force
        ? `${outcome.failure.message}; ${Annotations.forceDelete} is set, so the finalizer is removed anyway and Fly resources may remain`
        : outcome.failure.message,
    })
    if (!force) {
      yield* ensureTeardownStatus(current, outcome.failure)
      return retry
    }
  }
  yield* kube
    .removeFinalizer(FlyTunnelType, current, FINALIZER)
    .pipe(Effect.catchTag("KubeNotFound", () => Effect.void))
  return done
})

/**
 * The Tunnel controller's reconcile: reads the FlyTunnel, converges Fly (App, token secret, Machines and IPv4 in
 * parallel) and the cluster (frpc), then writes what it saw as status. Every step looks before it creates, so a
 * crash or a lost answer at any point is repaired by the next pass without duplicates.
 */
export const reconcileTunnel = Effect.fn("reconcileTunnel")(function* (key: string) {
  const kube = yield* KubeClient
  const events = yield* EventRecorder
  const { namespace = "", name } = ResourceType.parseKey(key)
  const found = yield* kube.get(FlyTunnelType, name, namespace).pipe(
    Effect.map(Option.some),
    Effect.catchTag("KubeNotFound", () => Effect.succeedNone),
  )
  if (Option.isNone(found)) return done
  let tunnel = found.value
  const identity: TunnelIdentity = { namespace, name, uid: tunnel.metadata?.uid ?? "" }
  if (tunnel.metadata?.deletionTimestamp !== undefined) return yield* finalize(tunnel, identity)

  const generation = tunnel.metadata?.generation ?? 0
  const decoded = yield* Effect.result(decodeFlyTunnel(tunnel))
  if (decoded._tag === "Failure") {
    // Admission should have refused it; if not, say which field and provision nothing.
    const invalid = new TunnelBlocked({
      condition: "Ready",
      reason: Reasons.InvalidSpec,
      message: decoded.failure.message,
      retry: false,
    })
    yield* kube.updateStatus(
      FlyTunnelType,
      tunnel,
      tunnelStatus({ generation, blocked: [invalid] }, tunnel.status, yield* now),
    )
    yield* events.record(tunnel, { type: "Warning", reason: Reasons.InvalidSpec, message: invalid.message })
    return done
  }
  const spec = decoded.success.spec
  if (!(tunnel.metadata?.finalizers ?? []).includes(FINALIZER)) {
    tunnel = yield* kube.addFinalizer(FlyTunnelType, tunnel, FINALIZER)
  }

  const blocked: Array<TunnelBlocked> = []
  const secret = yield* ensureTokenSecret(identity)
  const app = yield* attempt(blocked, ensureFlyApp(identity))
  let observations: Observations = { generation, blocked, ...(Option.isSome(app) ? { app: app.value } : {}) }
  if (Option.isSome(app)) {
    const secretsVersion = yield* attempt(blocked, ensureFlySecret(secret, app.value))
    const [machines, address] = yield* Effect.all(
      [
        Option.isSome(secretsVersion)
          ? attempt(blocked, ensureMachines(identity, spec, app.value, secretsVersion.value))
          : Effect.succeedNone,
        attempt(blocked, ensureAddress(app.value)),
      ],
      { concurrency: 2 },
    )
    observations = {
      ...observations,
      ...(Option.isSome(machines) ? { machines: machines.value } : {}),
      ...(Option.isSome(address) ? { address: address.value } : {}),
    }
    if (Option.isSome(machines) && Option.isSome(address)) {
      const target = yield* attempt(blocked, resolveTarget(namespace, spec))
      if (Option.isSome(target)) {
        const deployments = yield* ensureClient(identity, spec, secret, address.value, machines.value, target.value)
        observations = { ...observations, clientRolledOut: deployments.every(clientRolledOut) }
      }
    }
  }

  const status = tunnelStatus(observations, tunnel.status, yield* now)
  yield* kube.updateStatus(FlyTunnelType, tunnel, status)
  const wasReady = tunnel.status !== undefined && isReady(tunnel.status)
  if (isReady(status) && !wasReady) {
    yield* events.record(tunnel, {
      type: "Normal",
      reason: Reasons.Ready,
      message: `tunnel ready at ${observations.address}`,
    })
  }
  for (const issue of blocked)
    yield* events.record(tunnel, { type: "Warning", reason: issue.reason, message: issue.message })
  if (blocked.some((issue) => issue.retry)) return retry
  if (blocked.length > 0 || isReady(status)) return done
  return requeueAfter(PROGRESS_INTERVAL) satisfies ReconcileResult
})
