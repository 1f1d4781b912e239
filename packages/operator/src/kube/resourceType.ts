// What the client needs to address a kind over REST: group, version, plural and scope. A static
// table instead of discovery: the operator touches a handful of kinds, all known at build time.
// Objects stay the API server's JSON; the built-in kinds are typed with client-node's models
// (type-only: timestamps arrive as strings, which the operator never reads as dates).
import { type FlyTunnelStatus, GROUP, KIND, PLURAL, VERSION } from "@fly-tunnel-operator/api"
import type {
  CoreV1Event,
  V1ConfigMap,
  V1Deployment,
  V1EndpointSlice,
  V1Lease,
  V1LeaseSpec,
  V1Namespace,
  V1Node,
  V1ObjectMeta,
  V1Secret,
  V1Service,
  V1ServiceCIDR,
} from "@kubernetes/client-node"
import type { MicroTime } from "@kubernetes-models/apimachinery/apis/meta/v1/MicroTime"

/** Any Kubernetes object as it comes over the wire (raw JSON; decode what you rely on with Schema). */
export interface KubeObject {
  readonly apiVersion?: string
  readonly kind?: string
  readonly metadata?: V1ObjectMeta
}

/**
 * A Lease with its times as the wire has them: apimachinery's MicroTime strings (kubeTime.ts), not the Date class
 * client-node's model declares (its models are typed for its own deserializer, which the operator does not run).
 */
export interface LeaseObject extends Omit<V1Lease, "spec"> {
  readonly spec?: Omit<V1LeaseSpec, "acquireTime" | "renewTime"> & {
    readonly acquireTime?: MicroTime
    readonly renewTime?: MicroTime
  }
}

/** A FlyTunnel as the API server has it: metadata and status as written, the spec still to be decoded. */
export interface FlyTunnelObject extends KubeObject {
  readonly spec?: unknown
  readonly status?: FlyTunnelStatus
}

export interface ResourceType<A extends KubeObject> {
  /** "" for the core group. */
  readonly group: string
  readonly version: string
  readonly kind: string
  readonly plural: string
  readonly namespaced: boolean
  /** Phantom: the object type this resource yields. */
  readonly _A?: (_: never) => A
}

const make = <A extends KubeObject>(type: Omit<ResourceType<A>, "_A">): ResourceType<A> => type

export const apiVersion = (type: ResourceType<KubeObject>): string =>
  type.group === "" ? type.version : `${type.group}/${type.version}`

/**
 * An object as the API server sent it for `type`, with its type meta restored (lists and watch
 * events leave it out). The one place JSON from the server becomes a typed object: the server is
 * trusted to answer with the kind that was asked for; what the operator relies on is decoded.
 */
export const fromServer = <A extends KubeObject>(type: ResourceType<A>, json: object): A =>
  ({ ...json, apiVersion: apiVersion(type), kind: type.kind }) as A

/** The collection path, e.g. `/apis/apps/v1/namespaces/ns/deployments`. */
export const collectionPath = (type: ResourceType<KubeObject>, namespace?: string | undefined): string => {
  const base = type.group === "" ? `/api/${type.version}` : `/apis/${type.group}/${type.version}`
  return type.namespaced && namespace !== undefined
    ? `${base}/namespaces/${encodeURIComponent(namespace)}/${type.plural}`
    : `${base}/${type.plural}`
}

export const objectPath = (type: ResourceType<KubeObject>, name: string, namespace?: string | undefined): string =>
  `${collectionPath(type, namespace)}/${encodeURIComponent(name)}`

/** `namespace/name` (or `name` for cluster-scoped objects): the key of caches and work queues. */
export const keyOf = (object: KubeObject): string => {
  const namespace = object.metadata?.namespace
  const name = object.metadata?.name ?? ""
  return namespace ? `${namespace}/${name}` : name
}

export const parseKey = (key: string): { readonly namespace: string | undefined; readonly name: string } => {
  const slash = key.indexOf("/")
  return slash < 0
    ? { namespace: undefined, name: key }
    : { namespace: key.slice(0, slash), name: key.slice(slash + 1) }
}

export const Namespace = make<V1Namespace>({
  group: "",
  version: "v1",
  kind: "Namespace",
  plural: "namespaces",
  namespaced: false,
})
export const Service = make<V1Service>({
  group: "",
  version: "v1",
  kind: "Service",
  plural: "services",
  namespaced: true,
})
/** Read and deleted only: the Go operator's frpc ConfigMaps, removed when their App is adopted. */
export const ConfigMap = make<V1ConfigMap>({
  group: "",
  version: "v1",
  kind: "ConfigMap",
  plural: "configmaps",
  namespaced: true,
})
export const Secret = make<V1Secret>({ group: "", version: "v1", kind: "Secret", plural: "secrets", namespaced: true })
export const CoreEvent = make<CoreV1Event>({
  group: "",
  version: "v1",
  kind: "Event",
  plural: "events",
  namespaced: true,
})
export const Deployment = make<V1Deployment>({
  group: "apps",
  version: "v1",
  kind: "Deployment",
  plural: "deployments",
  namespaced: true,
})
export const Lease = make<LeaseObject>({
  group: "coordination.k8s.io",
  version: "v1",
  kind: "Lease",
  plural: "leases",
  namespaced: true,
})
export const FlyTunnel = make<FlyTunnelObject>({
  group: GROUP,
  version: VERSION,
  kind: KIND,
  plural: PLURAL,
  namespaced: true,
})

// Read by the tunnel policy: the cluster's own ranges (kube/clusterRanges.ts).
export const Node = make<V1Node>({ group: "", version: "v1", kind: "Node", plural: "nodes", namespaced: false })
export const ServiceCIDR = make<V1ServiceCIDR>({
  group: "networking.k8s.io",
  version: "v1",
  kind: "ServiceCIDR",
  plural: "servicecidrs",
  namespaced: false,
})
export const EndpointSlice = make<V1EndpointSlice>({
  group: "discovery.k8s.io",
  version: "v1",
  kind: "EndpointSlice",
  plural: "endpointslices",
  namespaced: true,
})
