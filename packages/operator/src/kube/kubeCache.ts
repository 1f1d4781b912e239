// The process's one cache: a single informer per kind, shared by both controllers and read by
// their reconciles (controller-runtime's cache-backed client). It runs from start-up, before and
// regardless of leadership, so a standby that takes over starts warm. Objects are trimmed to what
// the operator reads: a Service of another class keeps only what decides whether it is ours and
// the ClusterIP a FlyTunnel may target.
import { GROUP, Labels, MANAGED_BY } from "@fly-tunnel-operator/api"
import type { V1Deployment, V1Service } from "@kubernetes/client-node"
import { Context, Effect, Layer, Struct } from "effect"
import * as Informer from "./informer.ts"
import type { KubeClient } from "./kubeClient.ts"
import { Deployment, FlyTunnel, type FlyTunnelObject, Service } from "./resourceType.ts"

export interface KubeCacheOptions {
  /** Where the frpc Deployments live. */
  readonly operatorNamespace: string
  /** Whether the Service controller acts on a Service; the others are stored trimmed. */
  readonly isManagedService: (service: V1Service) => boolean
}

export class KubeCache extends Context.Service<
  KubeCache,
  {
    readonly tunnels: Informer.Informer<FlyTunnelObject>
    readonly services: Informer.Informer<V1Service>
    /** The frpc Deployments (operator namespace, our label). */
    readonly deployments: Informer.Informer<V1Deployment>
  }
>()("@fly-tunnel-operator/operator/kube/KubeCache") {
  static readonly layer = (options: KubeCacheOptions): Layer.Layer<KubeCache, never, KubeClient> =>
    Layer.effect(
      KubeCache,
      Effect.gen(function* () {
        return KubeCache.of({
          tunnels: yield* Informer.make(FlyTunnel),
          services: yield* Informer.make(Service, { transform: trimService(options.isManagedService) }),
          deployments: yield* Informer.make(Deployment, {
            namespace: options.operatorNamespace,
            labelSelector: `${Labels.managedBy}=${MANAGED_BY}`,
            transform: trimDeployment,
          }),
        })
      }),
    )
}

/** The legacy form of spec.loadBalancerSourceRanges, which the Service controller must see too. */
export const SOURCE_RANGES_ANNOTATION = "service.beta.kubernetes.io/load-balancer-source-ranges"

const ownAnnotations = (annotations: Readonly<Record<string, string>> | undefined) =>
  annotations === undefined
    ? undefined
    : Object.fromEntries(
        Object.entries(annotations).filter(([key]) => key.startsWith(`${GROUP}/`) || key === SOURCE_RANGES_ANNOTATION),
      )

export const trimService =
  (isManagedService: (service: V1Service) => boolean) =>
  (service: V1Service): V1Service => {
    const metadata = Struct.pick(service.metadata ?? {}, [
      "name",
      "namespace",
      "uid",
      "resourceVersion",
      "generation",
      "deletionTimestamp",
      "finalizers",
    ])
    const spec = Struct.pick(service.spec ?? {}, ["type", "loadBalancerClass", "clusterIP"])
    const base = { ...Struct.pick(service, ["apiVersion", "kind"]), metadata, spec }
    if (!isManagedService(service)) return base
    const annotations = ownAnnotations(service.metadata?.annotations)
    return {
      ...base,
      metadata: { ...metadata, ...(annotations === undefined ? {} : { annotations }) },
      spec: {
        ...spec,
        ...Struct.pick(service.spec ?? {}, ["ports", "loadBalancerSourceRanges", "externalTrafficPolicy"]),
      },
      ...(service.status === undefined ? {} : { status: service.status }),
    }
  }

/** Rollout state and the operator's spec hash: the template is the operator's own and never read back. */
export const trimDeployment = (deployment: V1Deployment): V1Deployment => ({
  ...Struct.pick(deployment, ["apiVersion", "kind"]),
  metadata: Struct.pick(deployment.metadata ?? {}, [
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "labels",
    "annotations",
    "deletionTimestamp",
  ]),
  ...(deployment.spec === undefined
    ? {}
    : { spec: { ...Struct.pick(deployment.spec, ["replicas"]), selector: deployment.spec.selector, template: {} } }),
  ...(deployment.status === undefined ? {} : { status: deployment.status }),
})
