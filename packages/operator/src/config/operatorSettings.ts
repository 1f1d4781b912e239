import { MAX_FRPC_REPLICAS, MAX_REGIONS, MachineSize, Region } from "@fly-tunnel-operator/api"
import { Schema, SchemaTransformation } from "effect"
import { IpRangeText, splitList } from "../policy/ipRange.ts"
import { LabelSelector } from "../policy/labelSelector.ts"
import { DEFAULT_ALLOWED_CIDRS } from "../policy/tunnelPolicy.ts"

/**
 * Every setting of the operator process: its flag, its environment variable, and how its text is decoded.
 * Flags win over the environment; a bad or missing value stops the operator at start, naming the setting.
 */
export interface Setting<A> {
  readonly flag: string
  readonly env: string
  readonly description: string
  readonly schema: Schema.Codec<A, string>
  /** Absent when the setting is required. */
  readonly default?: string
}

const setting = <A>(options: Setting<A>): Setting<A> => options

const Address = Schema.String.check(
  Schema.makeFilter(
    (value) => /^(\[[0-9a-fA-F:]+\]|[\w.-]*):\d{1,5}$/.test(value) || "must look like HOST:PORT or :PORT",
  ),
)
const Enabled = Schema.Literals(["true", "false"])
const PositiveInt = Schema.NumberFromString.check(Schema.isInt(), Schema.isGreaterThan(0))
const NonNegativeInt = Schema.NumberFromString.check(Schema.isInt(), Schema.isGreaterThanOrEqualTo(0))
const NonEmpty = Schema.NonEmptyString
const Bounded = (maximum: number) => PositiveInt.check(Schema.isLessThanOrEqualTo(maximum))

/** Comma-separated items, each decoded by `item` (empty text: none). */
const commaList = <S extends Schema.Codec<unknown, string>>(item: S) =>
  Schema.String.pipe(
    Schema.decodeTo(
      Schema.Array(item),
      SchemaTransformation.transform<ReadonlyArray<string>, string>({
        decode: splitList,
        encode: (items) => items.join(","),
      }),
    ),
  )

/** A host name suffix: a DNS name, optionally written with a leading dot. */
const HostSuffix = Schema.String.check(
  Schema.isPattern(/^\.?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/u, {
    expected: "a lower-case DNS name such as lan.example.com",
  }),
)

export const SETTINGS = {
  kubeconfig: setting({
    flag: "kubeconfig",
    env: "KUBECONFIG",
    description: "kubeconfig file; in a Pod the in-cluster ServiceAccount is used when unset",
    schema: Schema.String,
    default: "",
  }),
  flyApiToken: setting({
    flag: "",
    env: "FLY_API_TOKEN",
    description: "Fly API token (an org token); prefer FLY_API_TOKEN_FILE",
    schema: Schema.String,
    default: "",
  }),
  flyApiTokenFile: setting({
    flag: "fly-api-token-file",
    env: "FLY_API_TOKEN_FILE",
    description: "file holding the Fly API token",
    schema: Schema.String,
    default: "",
  }),
  flyApiBaseUrl: setting({
    flag: "fly-api-base-url",
    env: "FLY_API_BASE_URL",
    description: "Fly Machines API base URL",
    schema: Schema.String.check(
      Schema.makeFilter((value) => /^https?:\/\/[^\s/]+/.test(value) || "must be an http(s) URL"),
    ),
    default: "https://api.machines.dev",
  }),
  flyOrg: setting({
    flag: "fly-org",
    env: "FLY_ORG",
    description: "Fly organization slug that owns the tunnel apps",
    schema: NonEmpty,
  }),
  flyRegion: setting({
    flag: "fly-region",
    env: "FLY_REGION",
    description: "default Fly region for tunnels that name none",
    schema: Region,
    default: "ord",
  }),
  flyMachineSize: setting({
    flag: "fly-machine-size",
    env: "FLY_MACHINE_SIZE",
    description: "default Machine size preset",
    schema: MachineSize,
    default: "shared-cpu-1x",
  }),
  loadBalancerClass: setting({
    flag: "load-balancer-class",
    env: "LOAD_BALANCER_CLASS",
    description: "spec.loadBalancerClass of the Services this operator manages",
    schema: NonEmpty,
    default: "fly-tunnel-operator.dev/lb",
  }),
  frpsImage: setting({
    flag: "frps-image",
    env: "FRPS_IMAGE",
    description: "frps image for Machines",
    schema: Schema.String,
    default: "",
  }),
  frpcImage: setting({
    flag: "frpc-image",
    env: "FRPC_IMAGE",
    description: "frpc image for the in-cluster client",
    schema: Schema.String,
    default: "",
  }),
  operatorNamespace: setting({
    flag: "operator-namespace",
    env: "OPERATOR_NAMESPACE",
    description: "namespace of the frpc Secrets and Deployments and the leader-election Lease",
    schema: Schema.String,
    default: "",
  }),
  logLevel: setting({
    flag: "log-level",
    env: "LOG_LEVEL",
    description: "log level",
    schema: Schema.Literals(["debug", "info", "warn", "error"]),
    default: "info",
  }),
  metricsAddr: setting({
    flag: "metrics-addr",
    env: "METRICS_ADDR",
    description: "address of /metrics",
    schema: Address,
    default: ":8080",
  }),
  healthAddr: setting({
    flag: "health-addr",
    env: "HEALTH_ADDR",
    description: "address of /healthz and /readyz",
    schema: Address,
    default: ":8081",
  }),
  leaderElect: setting({
    flag: "leader-elect",
    env: "LEADER_ELECT",
    description: "leader election on a Lease",
    schema: Enabled,
    default: "true",
  }),
  leaderElectionId: setting({
    flag: "leader-election-id",
    env: "LEADER_ELECTION_ID",
    description: "name of the leader-election Lease",
    schema: NonEmpty,
    default: "fly-tunnel-operator",
  }),
  resyncSeconds: setting({
    flag: "resync-seconds",
    env: "RESYNC_SECONDS",
    description: "period of the drift check of every tunnel",
    schema: PositiveInt,
    default: "600",
  }),
  addressTargetsEnabled: setting({
    flag: "address-targets-enabled",
    env: "ADDRESS_TARGETS_ENABLED",
    description: "whether a FlyTunnel may target an address (not a Service) at all",
    schema: Enabled,
    default: "true",
  }),
  addressTargetsAllowedCidrs: setting({
    flag: "address-targets-allowed-cidrs",
    env: "ADDRESS_TARGETS_ALLOWED_CIDRS",
    description: "comma-separated IP ranges an address target may lie in",
    schema: commaList(IpRangeText),
    default: DEFAULT_ALLOWED_CIDRS.join(","),
  }),
  addressTargetsAllowedHostnames: setting({
    flag: "address-targets-allowed-hostnames",
    env: "ADDRESS_TARGETS_ALLOWED_HOSTNAMES",
    description: "comma-separated host name suffixes an address target may name (empty: IP addresses only)",
    schema: commaList(HostSuffix),
    default: "",
  }),
  addressTargetsRefusedCidrs: setting({
    flag: "address-targets-refused-cidrs",
    env: "ADDRESS_TARGETS_REFUSED_CIDRS",
    description: "comma-separated IP ranges always refused, besides the cluster ranges the operator discovers",
    schema: commaList(IpRangeText),
    default: "",
  }),
  tenantMachineSizes: setting({
    flag: "tenant-machine-sizes",
    env: "TENANT_MACHINE_SIZES",
    description: "comma-separated Machine sizes tunnels may use (empty: every size)",
    schema: commaList(MachineSize),
    default: "",
  }),
  tenantRegions: setting({
    flag: "tenant-regions",
    env: "TENANT_REGIONS",
    description: "comma-separated Fly regions tunnels may use (empty: every region)",
    schema: commaList(Region),
    default: "",
  }),
  tenantMaxRegions: setting({
    flag: "tenant-max-regions",
    env: "TENANT_MAX_REGIONS",
    description: `most regions (Machines) per tunnel, 1-${MAX_REGIONS}`,
    schema: Bounded(MAX_REGIONS),
    default: String(MAX_REGIONS),
  }),
  tenantMaxFrpcReplicas: setting({
    flag: "tenant-max-frpc-replicas",
    env: "TENANT_MAX_FRPC_REPLICAS",
    description: `most frpc replicas per tunnel, 1-${MAX_FRPC_REPLICAS}`,
    schema: Bounded(MAX_FRPC_REPLICAS),
    default: String(MAX_FRPC_REPLICAS),
  }),
  tenantAllowFrpcScheduling: setting({
    flag: "tenant-allow-frpc-scheduling",
    env: "TENANT_ALLOW_FRPC_SCHEDULING",
    description: "whether tunnels may set spec.frpc.nodeSelector and spec.frpc.tolerations",
    schema: Enabled,
    default: "true",
  }),
  tenantNamespaceSelector: setting({
    flag: "tenant-namespace-selector",
    env: "TENANT_NAMESPACE_SELECTOR",
    description: "namespaces that may have tunnels, a LabelSelector as JSON (empty object: every namespace)",
    schema: Schema.fromJsonString(LabelSelector),
    default: "{}",
  }),
  concurrency: setting({
    flag: "concurrency",
    env: "CONCURRENCY",
    description: "reconciles at once per controller",
    schema: PositiveInt,
    default: "4",
  }),
  clusterId: setting({
    flag: "cluster-id",
    env: "CLUSTER_ID",
    description:
      "this cluster's identity on Fly, marked on every App it makes (default: the kube-system namespace's UID)",
    schema: Schema.String.check(
      Schema.makeFilter((value) => /^[A-Za-z0-9-]*$/.test(value) || "must be letters, digits and dashes"),
    ),
    default: "",
  }),
  sweepIntervalSeconds: setting({
    flag: "sweep-interval-seconds",
    env: "SWEEP_INTERVAL_SECONDS",
    description: "period of the orphan sweep (Fly Apps and frpc objects whose FlyTunnel is gone); 0 turns it off",
    schema: NonNegativeInt,
    default: "300",
  }),
  sweepGraceSeconds: setting({
    flag: "sweep-grace-seconds",
    env: "SWEEP_GRACE_SECONDS",
    description: "how long something must stay an orphan before the sweep removes it",
    schema: NonNegativeInt,
    default: "600",
  }),
  adoptionEnabled: setting({
    flag: "adoption-enabled",
    env: "ADOPTION_ENABLED",
    description:
      "a new tunnel of a Service carrying the Go operator's fly-app and public-ip annotations takes that App over and keeps its IPv4 (a Service's fly-tunnel-operator.dev/adopt annotation overrides it)",
    schema: Enabled,
    default: "false",
  }),
  goOperatorNamespace: setting({
    flag: "go-operator-namespace",
    env: "GO_OPERATOR_NAMESPACE",
    description:
      "namespace of the Go operator's frpc Deployments and ConfigMaps, removed when their App is adopted (default: the operator's namespace)",
    schema: Schema.String,
    default: "",
  }),
} as const
