import { Annotations, API_VERSION, FINALIZER, KIND, Labels, MANAGED_BY, Reasons } from "@fly-tunnel-operator/api"
import { DateTime, Effect, Option } from "effect"
import { done, requeueAfter } from "../controller/reconcileResult.ts"
import { EventRecorder } from "../kube/eventRecorder.ts"
import { KubeClient } from "../kube/kubeClient.ts"
import * as ResourceType from "../kube/resourceType.ts"
import { isOurService } from "./serviceClass.ts"
import { type ServiceObject, ServiceType, type TunnelObject, TunnelType } from "./serviceObjects.ts"
import { ServiceSettings } from "./serviceSettings.ts"
import { invalidServiceStatus, releasedServiceStatus, serviceStatusFor, tunnelFailure } from "./serviceStatus.ts"
import { describeProblem, tunnelSpecFromService } from "./serviceTunnelSpec.ts"

/** While the tunnel is being deleted, how soon to look again before releasing the Service. */
const TEARDOWN_POLL = "2 seconds"

const now = DateTime.now.pipe(Effect.map((time) => DateTime.formatIso(time).replace(/\.\d{3}Z$/, "Z")))

const ownedBy = (tunnel: TunnelObject, service: ServiceObject): boolean =>
  (tunnel.metadata?.ownerReferences ?? []).some((owner) => owner.uid === service.metadata?.uid)

const findTunnel = (kube: KubeClient["Service"], name: string, namespace: string) =>
  kube.get(TunnelType, name, namespace).pipe(
    Effect.map(Option.some),
    Effect.catchTag("KubeNotFound", () => Effect.succeedNone),
  )

/**
 * A Service that is no longer ours (deleted, type or class changed): its tunnel is deleted and waited for (the
 * tunnel's own finalizer tears Fly down), then our ingress, condition and finalizer are removed.
 */
const release = Effect.fn("releaseService")(function* (service: ServiceObject) {
  const kube = yield* KubeClient
  const name = service.metadata?.name ?? ""
  const namespace = service.metadata?.namespace ?? ""
  const tunnel = yield* findTunnel(kube, name, namespace)
  if (Option.isSome(tunnel) && ownedBy(tunnel.value, service)) {
    if (tunnel.value.metadata?.deletionTimestamp === undefined) {
      yield* kube
        .delete(ResourceType.FlyTunnel, name, namespace)
        .pipe(Effect.catchTag("KubeNotFound", () => Effect.void))
    }
    return requeueAfter(TEARDOWN_POLL)
  }
  let current = service
  if (service.metadata?.deletionTimestamp === undefined) {
    current = yield* kube.updateStatus(ServiceType, service, releasedServiceStatus(service))
  }
  yield* kube.removeFinalizer(ServiceType, current, FINALIZER).pipe(Effect.catchTag("KubeNotFound", () => Effect.void))
  return done
})

/**
 * The Service controller's reconcile: a Service of our class gets a FlyTunnel of the same name (owned by it, kept in
 * step with its ports and annotations) and the tunnel's address as its ingress. Never writes a Service's spec.
 */
export const reconcileService = Effect.fn("reconcileService")(function* (key: string) {
  const kube = yield* KubeClient
  const events = yield* EventRecorder
  const settings = yield* ServiceSettings
  const { namespace = "", name } = ResourceType.parseKey(key)
  const found = yield* kube.get(ServiceType, name, namespace).pipe(
    Effect.map(Option.some),
    Effect.catchTag("KubeNotFound", () => Effect.succeedNone),
  )
  if (Option.isNone(found)) return done
  let service = found.value
  const ours = isOurService(service, settings.loadBalancerClass)
  const hasFinalizer = (service.metadata?.finalizers ?? []).includes(FINALIZER)
  if (!ours || service.metadata?.deletionTimestamp !== undefined) return hasFinalizer ? yield* release(service) : done
  if (!hasFinalizer) service = yield* kube.addFinalizer(ServiceType, service, FINALIZER)

  const desired = tunnelSpecFromService(service, {
    region: settings.defaultRegion,
    machineSize: settings.defaultMachineSize,
  })
  if ("problems" in desired) {
    // The tunnel is left as it was: a typo in an annotation never takes a working address down.
    const message = desired.problems.map(describeProblem).join("; ")
    yield* kube.updateStatus(ServiceType, service, invalidServiceStatus(service, message, yield* now))
    yield* events.record(service, { type: "Warning", reason: Reasons.InvalidSpec, message })
    return done
  }

  const existing = yield* findTunnel(kube, name, namespace)
  if (Option.isSome(existing) && !ownedBy(existing.value, service)) {
    const message = `FlyTunnel ${namespace}/${name} exists and is not owned by this Service; rename one of them`
    yield* kube.updateStatus(ServiceType, service, invalidServiceStatus(service, message, yield* now))
    yield* events.record(service, { type: "Warning", reason: Reasons.InvalidSpec, message })
    return done
  }
  const forceDelete = service.metadata?.annotations?.[Annotations.forceDelete]
  const tunnel = yield* kube.apply(TunnelType, {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: {
      name,
      namespace,
      labels: { [Labels.managedBy]: MANAGED_BY },
      // Passed through so the tunnel's finalizer honours it when the Service is deleted.
      ...(forceDelete === undefined ? {} : { annotations: { [Annotations.forceDelete]: forceDelete } }),
      ownerReferences: [
        {
          apiVersion: "v1",
          kind: "Service",
          name,
          uid: service.metadata?.uid ?? "",
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    spec: desired.spec,
  })
  if (Option.isNone(existing)) {
    yield* events.record(service, {
      type: "Normal",
      reason: "TunnelCreated",
      message: `created FlyTunnel ${namespace}/${name}`,
    })
  }
  const before = service.status?.loadBalancer?.ingress?.[0]?.ip
  const status = serviceStatusFor(service, tunnel.status, yield* now)
  yield* kube.updateStatus(ServiceType, service, status)
  const after = status.loadBalancer?.ingress?.[0]?.ip
  if (after !== undefined && after !== before) {
    yield* events.record(service, { type: "Normal", reason: "AddressAssigned", message: `public address ${after}` })
  }
  const failure = tunnelFailure(tunnel.status)
  if (failure !== undefined) {
    yield* events.record(service, { type: "Warning", reason: failure.reason, message: failure.message })
  }
  return done
})
