// What the client needs to address a kind over REST: group, version, plural and scope. A static
// table instead of discovery: the operator touches a handful of kinds, all known at build time.
import type { IObjectMeta } from "@kubernetes-models/apimachinery/apis/meta/v1/ObjectMeta"

/** Any Kubernetes object as it comes over the wire (raw JSON; decode what you rely on with Schema). */
export interface KubeObject {
  readonly apiVersion?: string | undefined
  readonly kind?: string | undefined
  readonly metadata?: IObjectMeta | undefined
}

/** A KubeObject with its other fields untyped: the default for the built-in resource types. */
export type AnyObject = KubeObject & { readonly [field: string]: unknown }

export interface ResourceType<A extends KubeObject = AnyObject> {
  /** "" for the core group. */
  readonly group: string
  readonly version: string
  readonly kind: string
  readonly plural: string
  readonly namespaced: boolean
  /** Phantom: the object type this resource yields. */
  readonly _A?: (_: never) => A
}

export const make = <A extends KubeObject = AnyObject>(type: Omit<ResourceType<A>, "_A">): ResourceType<A> => type

export const apiVersion = (type: ResourceType<KubeObject>): string =>
  type.group === "" ? type.version : `${type.group}/${type.version}`

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

export const Service = make({ group: "", version: "v1", kind: "Service", plural: "services", namespaced: true })
export const Secret = make({ group: "", version: "v1", kind: "Secret", plural: "secrets", namespaced: true })
export const ConfigMap = make({ group: "", version: "v1", kind: "ConfigMap", plural: "configmaps", namespaced: true })
export const Namespace = make({ group: "", version: "v1", kind: "Namespace", plural: "namespaces", namespaced: false })
export const Pod = make({ group: "", version: "v1", kind: "Pod", plural: "pods", namespaced: true })
export const CoreEvent = make({ group: "", version: "v1", kind: "Event", plural: "events", namespaced: true })
export const Deployment = make({
  group: "apps",
  version: "v1",
  kind: "Deployment",
  plural: "deployments",
  namespaced: true,
})
export const Lease = make({
  group: "coordination.k8s.io",
  version: "v1",
  kind: "Lease",
  plural: "leases",
  namespaced: true,
})
export const FlyTunnel = make({
  group: "fly-tunnel-operator.dev",
  version: "v1alpha1",
  kind: "FlyTunnel",
  plural: "flytunnels",
  namespaced: true,
})
