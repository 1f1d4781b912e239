import { Annotations, API_VERSION, FINALIZER, KIND, Labels, MANAGED_BY, Reasons } from "@fly-tunnel-operator/api"
import type { V1OwnerReference, V1Service } from "@kubernetes/client-node"
import { Effect, Option, Result } from "effect"
import { done, requeueAfter } from "../controller/reconcileResult.ts"
import { EventRecorder } from "../kube/eventRecorder.ts"
import { KubeCache } from "../kube/kubeCache.ts"
import { addFinalizer, KubeClient, removeFinalizer } from "../kube/kubeClient.ts"
import { kubeTimeNow } from "../kube/kubeTime.ts"
import { sameJson } from "../kube/patches.ts"
import { FlyTunnel, type FlyTunnelObject, parseKey, Service } from "../kube/resourceType.ts"
import { adoptInputFor, adoptionWanted, notAdopted } from "./serviceAdoption.ts"
import { isOurService } from "./serviceClass.ts"
import { writeFlyHostnameAnnotation } from "./serviceHostnameAnnotation.ts"
import { servicePolicyProblems } from "./servicePolicy.ts"
import { ServiceSettings } from "./serviceSettings.ts"
import {
  invalidServiceStatus,
  ownedStatusOf,
  releasedServiceStatus,
  serviceStatusFor,
  tunnelFailure,
  unpublishedServiceStatus,
  withSourceRangesWarning,
} from "./serviceStatus.ts"
import { writeServiceStatus } from "./serviceStatusWriter.ts"
import { describeProblem, tunnelSpecFromService } from "./serviceTunnelSpec.ts"
import { sourceRangesVerdict } from "./sourceRanges.ts"

/** While the tunnel is being deleted, how soon to look again before releasing the Service. */
const TEARDOWN_POLL = "2 seconds"

/** The controller reference that makes a FlyTunnel the Service's (and lets garbage collection follow it). */
const ownerReference = (service: V1Service): V1OwnerReference => ({
  apiVersion: "v1",
  kind: "Service",
  name: service.metadata?.name ?? "",
  uid: service.metadata?.uid ?? "",
  controller: true,
  blockOwnerDeletion: true,
})

const ownedBy = (tunnel: FlyTunnelObject, service: V1Service): boolean =>
  (tunnel.metadata?.ownerReferences ?? []).some((owner) => owner.uid === service.metadata?.uid)

/**
 * A Service that is no longer ours (deleted, type or class changed): its tunnel is deleted and waited for (the
 * tunnel's own finalizer tears Fly down), then our ingress, condition, `fly-hostname` annotation and finalizer are
 * removed (a Service being deleted keeps all but the finalizer: it is going anyway).
 */
const release = Effect.fn("releaseService")(function* (service: V1Service) {
  const kube = yield* KubeClient
  const cache = yield* KubeCache
  const { name = "", namespace = "" } = service.metadata ?? {}
  const tunnel = yield* cache.tunnels.get(name, namespace)
  if (Option.isSome(tunnel) && ownedBy(tunnel.value, service)) {
    if (tunnel.value.metadata?.deletionTimestamp === undefined) {
      yield* kube.delete(FlyTunnel, name, namespace).pipe(Effect.catchTag("KubeNotFound", () => Effect.void))
    }
    return requeueAfter(TEARDOWN_POLL)
  }
  const current =
    service.metadata?.deletionTimestamp === undefined
      ? yield* writeFlyHostnameAnnotation(yield* writeServiceStatus(service, releasedServiceStatus), undefined)
      : service
  yield* removeFinalizer(Service, current, FINALIZER).pipe(Effect.catchTag("KubeNotFound", () => Effect.void))
  return done
})

/** The FlyTunnel a Service asks for: same namespace and name, owned by it, with `force-delete` passed through. */
const desiredTunnel = (service: V1Service, spec: unknown): FlyTunnelObject => {
  const forceDelete = service.metadata?.annotations?.[Annotations.forceDelete]
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: {
      name: service.metadata?.name ?? "",
      namespace: service.metadata?.namespace ?? "",
      labels: { [Labels.managedBy]: MANAGED_BY },
      // Passed through so the tunnel's finalizer honours it when the Service is deleted.
      ...(forceDelete === undefined ? {} : { annotations: { [Annotations.forceDelete]: forceDelete } }),
      ownerReferences: [ownerReference(service)],
    },
    spec,
  }
}

/** Whether the cached tunnel already is what `desired` asks for, so applying it would change nothing. */
const inStep = (current: FlyTunnelObject, desired: FlyTunnelObject): boolean =>
  sameJson(current.spec, desired.spec) &&
  current.metadata?.labels?.[Labels.managedBy] === MANAGED_BY &&
  current.metadata?.annotations?.[Annotations.forceDelete] ===
    desired.metadata?.annotations?.[Annotations.forceDelete] &&
  sameJson(current.metadata?.ownerReferences, desired.metadata?.ownerReferences)

/**
 * The Service controller's reconcile: a Service of our class gets a FlyTunnel of the same name (owned by it, kept in
 * step with its ports and annotations), the tunnel's address as its ingress and its `<app>.fly.dev` as our annotation.
 * Never writes a Service's spec.
 */
export const reconcileService = Effect.fn("reconcileService")(function* (key: string) {
  const kube = yield* KubeClient
  const cache = yield* KubeCache
  const events = yield* EventRecorder
  const settings = yield* ServiceSettings
  const { namespace = "", name } = parseKey(key)
  const found = yield* cache.services.get(name, namespace)
  if (Option.isNone(found)) return done
  let service = found.value
  const ours = isOurService(service, settings.loadBalancerClass)
  const hasFinalizer = (service.metadata?.finalizers ?? []).includes(FINALIZER)
  if (!ours || service.metadata?.deletionTimestamp !== undefined) return hasFinalizer ? yield* release(service) : done
  service = yield* addFinalizer(Service, service, FINALIZER)

  const existing = yield* cache.tunnels.get(name, namespace)
  // Adoption is decided when the tunnel is made; an existing tunnel keeps its spec.adopt (serviceAdoption.ts).
  const optedIn = adoptionWanted(service, settings.adoptionEnabled)
  const desired = Result.isFailure(optedIn)
    ? Result.fail([optedIn.failure])
    : tunnelSpecFromService(
        service,
        { region: settings.defaultRegion, machineSize: settings.defaultMachineSize },
        adoptInputFor(service, Option.getOrUndefined(existing), optedIn.success),
      )
  if (Result.isFailure(desired)) {
    // The tunnel is left as it was: a typo in an annotation never takes a working address down.
    const message = desired.failure.map(describeProblem).join("; ")
    yield* writeServiceStatus(service, invalidServiceStatus(service, message, yield* kubeTimeNow))
    yield* events.record(service, { type: "Warning", reason: Reasons.InvalidSpec, message })
    return done
  }

  const refusals = yield* servicePolicyProblems(service, desired.success)
  if (refusals.length > 0) {
    const message = refusals.join("; ")
    yield* writeServiceStatus(service, invalidServiceStatus(service, message, yield* kubeTimeNow))
    yield* events.record(service, { type: "Warning", reason: Reasons.InvalidSpec, message })
    return done
  }

  if (Option.isSome(existing) && !ownedBy(existing.value, service)) {
    const message = `FlyTunnel ${namespace}/${name} exists and is not owned by this Service; rename one of them`
    yield* writeServiceStatus(service, invalidServiceStatus(service, message, yield* kubeTimeNow))
    yield* events.record(service, { type: "Warning", reason: Reasons.InvalidSpec, message })
    return done
  }
  const sourceRanges = sourceRangesVerdict(service)
  if (!sourceRanges.enforced && Option.isNone(existing)) {
    const unpublished = unpublishedServiceStatus(service, sourceRanges, yield* kubeTimeNow)
    if (ownedStatusOf(service).condition?.message !== unpublished.condition?.message) {
      const message = unpublished.condition?.message ?? ""
      yield* events.record(service, { type: "Warning", reason: Reasons.SourceRangesNotEnforced, message })
    }
    yield* writeServiceStatus(service, unpublished)
    return done
  }
  const wanted = desiredTunnel(service, desired.success)
  const tunnel =
    Option.isSome(existing) && inStep(existing.value, wanted) ? existing.value : yield* kube.apply(FlyTunnel, wanted)
  if (Option.isNone(existing)) {
    yield* events.record(service, {
      type: "Normal",
      reason: "TunnelCreated",
      message: `created FlyTunnel ${namespace}/${name}`,
    })
  }
  const before = service.status?.loadBalancer?.ingress?.[0]?.ip
  const status = withSourceRangesWarning(
    service,
    serviceStatusFor(service, tunnel.status, yield* kubeTimeNow, notAdopted(service, tunnel)),
    sourceRanges,
    yield* kubeTimeNow,
  )
  const warned = ownedStatusOf(service).sourceRanges
  if (status.sourceRanges !== undefined && warned?.message !== status.sourceRanges.message) {
    const message = status.sourceRanges.message
    yield* events.record(service, { type: "Warning", reason: Reasons.SourceRangesNotEnforced, message })
  }
  service = yield* writeServiceStatus(service, status)
  // Every tunnel has `<app>.fly.dev` (a raw TCP port answers on it too), so every Service of ours shows it.
  yield* writeFlyHostnameAnnotation(service, tunnel.status?.hostname)
  const after = status.ingress?.[0]?.ip
  if (after !== undefined && after !== before) {
    yield* events.record(service, { type: "Normal", reason: "AddressAssigned", message: `public address ${after}` })
  }
  const failure = tunnelFailure(tunnel.status)
  if (failure !== undefined) {
    yield* events.record(service, { type: "Warning", reason: failure.reason, message: failure.message })
  }
  return done
})
