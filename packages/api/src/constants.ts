/** API group of every resource, annotation, label and finalizer this operator owns. */
export const GROUP = "fly-tunnel-operator.dev"
export const VERSION = "v1alpha1"
export const API_VERSION = `${GROUP}/${VERSION}`
export const KIND = "FlyTunnel"
export const LIST_KIND = "FlyTunnelList"
export const PLURAL = "flytunnels"
export const SINGULAR = "flytunnel"
export const SHORT_NAME = "ft"
export const CRD_NAME = `${PLURAL}.${GROUP}`

/** The `spec.loadBalancerClass` a Service sets to be served by this operator (overridable per install). */
export const DEFAULT_LOAD_BALANCER_CLASS = `${GROUP}/lb`

/** Held on Services and FlyTunnels until every Fly and cluster resource of the tunnel is gone. */
export const FINALIZER = `${GROUP}/finalizer`

/**
 * Service annotations users set to tune a tunnel. The first six are the Go operator's names
 * (kept so its users can switch); the rest are ours.
 */
export const Annotations = {
  /** One Fly region code, e.g. `ord` (Go operator). Superseded by `flyRegions` when both are set. */
  flyRegion: `${GROUP}/fly-region`,
  /** Machine size preset, e.g. `shared-cpu-1x` (Go operator). */
  flyMachineSize: `${GROUP}/fly-machine-size`,
  /** frpc container resources, Kubernetes quantities (Go operator). */
  frpcCpuRequest: `${GROUP}/frpc-cpu-request`,
  frpcCpuLimit: `${GROUP}/frpc-cpu-limit`,
  frpcMemoryRequest: `${GROUP}/frpc-memory-request`,
  frpcMemoryLimit: `${GROUP}/frpc-memory-limit`,
  /** Comma-separated Fly region codes, one Machine each, e.g. `ord,ams`. */
  flyRegions: `${GROUP}/fly-regions`,
  /** PROXY protocol for every TCP port of the Service: `none`, `v1` or `v2`. */
  proxyProtocol: `${GROUP}/proxy-protocol`,
  /** Number of frpc replicas, 1–10. */
  frpcReplicas: `${GROUP}/frpc-replicas`,
  /** `"false"`: no public IPv6 (one is allocated by default; Fly does not bill it). */
  ipv6: `${GROUP}/ipv6`,
  /** `dedicated` (default, $2/month) or `shared` (free, routed by hostname: HTTP on 80, TLS elsewhere). */
  ipv4: `${GROUP}/ipv4`,
  /** Comma-separated domains the tunnel serves, each with a Fly certificate, e.g. `api.example.com,www.example.com`. */
  hostnames: `${GROUP}/hostnames`,
  /** `"true"`: teardown drops the finalizer even when deleting Fly resources fails (they may leak). */
  forceDelete: `${GROUP}/force-delete`,
  /**
   * `"true"`: publish a Service that sets `spec.loadBalancerSourceRanges` although the ranges cannot be enforced
   * (Fly has no allowlist); without it such a Service is not published, or warned about while it stays published.
   */
  ignoreSourceRanges: `${GROUP}/ignore-source-ranges`,
  /**
   * `"true"`: a new tunnel takes over the Fly App named by `fly-app` and keeps its IPv4 `public-ip` (the Go
   * operator's App, or an App of this cluster whose FlyTunnel is gone); `"false"`: never. Unset: the chart's
   * `adoption.enabled`.
   */
  adopt: `${GROUP}/adopt`,
} as const

/**
 * The state annotations the Go operator wrote on each Service. This operator never writes them; with adoption on, a
 * new tunnel reads `flyApp` and `publicIp` as the App to take over and the IPv4 to keep.
 */
export const GoOperatorAnnotations = {
  flyApp: `${GROUP}/fly-app`,
  machineId: `${GROUP}/machine-id`,
  frpcDeployment: `${GROUP}/frpc-deployment`,
  ipId: `${GROUP}/ip-id`,
  publicIp: `${GROUP}/public-ip`,
} as const

/**
 * The per-port annotation of what Fly's edge does before the tunnel (`none`, `tls`, `http`, `tls+http`), named by the
 * Service port's name or number as Fly Kubernetes names its `service.fly.io/<exposed port name/number>-handlers`
 * (Fly's docs, "Configure FKS Services", fly.io/docs/kubernetes/services): `fly-tunnel-operator.dev/https-edge: tls`.
 * And `<port>-force-https: "true"` for an http port that redirects.
 */
export const portAnnotation = (port: string | number, setting: "edge" | "force-https"): string =>
  `${GROUP}/${port}-${setting}`

/** Annotations the operator writes on a Service and owns: users read them, never set them. */
export const OperatorAnnotations = {
  /** The tunnel's Fly hostname `<app>.fly.dev`, always served (a CNAME target for the Service's domains). */
  flyHostname: `${GROUP}/fly-hostname`,
} as const

/** Labels on every object the operator creates, so it can find (and only touch) its own objects. */
export const Labels = {
  managedBy: "app.kubernetes.io/managed-by",
  tunnelUid: `${GROUP}/tunnel-uid`,
  tunnelNamespace: `${GROUP}/tunnel-namespace`,
  tunnelName: `${GROUP}/tunnel-name`,
} as const

/** Value of the `app.kubernetes.io/managed-by` label. */
export const MANAGED_BY = "fly-tunnel-operator"

/** Defaults the operator applies to frpc when neither the FlyTunnel nor an annotation sets them (the Go operator's). */
export const DEFAULT_FRPC_RESOURCES = {
  requests: { cpu: "10m", memory: "32Mi" },
  limits: { memory: "128Mi" },
} as const

/** Upper bounds of list fields; they also bound the cost of the CEL rules on them. */
export const MAX_PORTS = 50
export const MAX_REGIONS = 10
export const MAX_FRPC_REPLICAS = 10
/** Fly gives an organization its first 10 hostnames free; 20 per tunnel bounds the cost of the rules on the list. */
export const MAX_HOSTNAMES = 20
