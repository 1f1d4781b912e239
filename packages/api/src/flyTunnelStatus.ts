import { Schema } from "effect"
import { ConditionTypes, Phase, Phases } from "./conditions.ts"

const Time = Schema.String.annotate({ format: "date-time" })

/** The shape of metav1.Condition. */
export const Condition = Schema.Struct({
  type: Schema.String.check(Schema.isMaxLength(316)).annotate({
    description: `Condition type: ${ConditionTypes.join(", ")}.`,
  }),
  status: Schema.Literals(["True", "False", "Unknown"]).annotate({ description: "True, False or Unknown." }),
  observedGeneration: Schema.optionalKey(
    Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)).annotate({
      description: "The metadata.generation this condition was computed from.",
    }),
  ),
  lastTransitionTime: Time.annotate({ description: "When status last changed." }),
  reason: Schema.String.check(
    Schema.isMaxLength(1024),
    Schema.isPattern(/^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/u),
  ).annotate({ description: "A stable CamelCase reason for the status (see the operator's documented reasons)." }),
  message: Schema.String.check(Schema.isMaxLength(32768)).annotate({
    description: "Human-readable detail, naming the field or Fly call at fault.",
  }),
}).annotate({ description: "One aspect of the tunnel's state." })
export type Condition = typeof Condition.Type

export const AppStatus = Schema.Struct({
  name: Schema.String.annotate({ description: "Name of the Fly App (derived from the FlyTunnel's UID)." }),
  network: Schema.optionalKey(Schema.String.annotate({ description: "The App's isolated Fly private network." })),
  id: Schema.optionalKey(Schema.String.annotate({ description: "Fly's id of the App (a rebuilt App has a new one)." })),
  secretsVersion: Schema.optionalKey(
    Schema.Int.annotate({
      description: "The App's secrets version holding the tunnel's current token; Machines boot with at least it.",
    }),
  ),
  tokenDigest: Schema.optionalKey(
    Schema.String.annotate({
      description:
        "Short SHA-256 digest of the token last given to the App (never the token): a new token is pushed and rolled out.",
    }),
  ),
  tlsDigest: Schema.optionalKey(
    Schema.String.annotate({
      description:
        "Short SHA-256 digest of frps's certificate and key last given to the App: new ones are pushed and rolled out.",
    }),
  ),
  cluster: Schema.optionalKey(
    Schema.String.annotate({
      description:
        "The cluster identity the App is marked with (its secret FTO_CLUSTER_<id>): the orphan sweep of this cluster, and only of this cluster, may remove it once the FlyTunnel is gone.",
    }),
  ),
}).annotate({ description: "The Fly App that holds the tunnel's Machines and address." })

export const TlsStatus = Schema.Struct({
  issuer: Schema.String.annotate({
    description:
      "SHA-256 fingerprint (first 16 hex digits) of the operator CA that issued frps's and frpc's certificates.",
  }),
  trusted: Schema.Array(Schema.String.annotate({ description: "A CA fingerprint." })).annotate({
    description:
      "Fingerprints of the CAs both ends trust (the issuer, and any trusted beside it during a CA rotation).",
    "x-kubernetes-list-type": "atomic",
  }),
  notAfter: Schema.optionalKey(Time.annotate({ description: "When frps's certificate expires." })),
  renewAfter: Schema.optionalKey(
    Time.annotate({
      description: "When the certificates are renewed (two thirds into their life); frps then restarts.",
    }),
  ),
}).annotate({ description: "The certificates with which frpc and frps authenticate each other." })

export const MachineStatus = Schema.Struct({
  id: Schema.String.annotate({ description: "Fly Machine ID." }),
  region: Schema.String.annotate({ description: "Fly region the Machine runs in." }),
  role: Schema.optionalKey(
    Schema.Literal("udp").annotate({
      description:
        "udp for the Machine of the tunnel's UDP ports (its frps binds fly-global-services, where Fly delivers UDP); absent for the one of its TCP ports.",
    }),
  ),
  state: Schema.optionalKey(Schema.String.annotate({ description: "Last observed Fly Machine state, e.g. started." })),
  instanceId: Schema.optionalKey(
    Schema.String.annotate({ description: "Fly instance ID of the Machine's current version." }),
  ),
  controlPort: Schema.optionalKey(
    Schema.Int.annotate({ description: "Port of this Machine's frps control listener, which its frpc dials." }),
  ),
  upToDate: Schema.optionalKey(
    Schema.Boolean.annotate({
      description: "Whether it runs the tunnel's current config (false while a rollout has not reached it yet).",
    }),
  ),
}).annotate({ description: "One frps Machine." })
export type MachineStatus = typeof MachineStatus.Type

export const AddressStatus = Schema.Struct({
  ip: Schema.String.annotate({ description: "The public IP address." }),
  type: Schema.Literals(["v4", "v6"]).annotate({ description: "v4 or v6." }),
}).annotate({ description: "A public address of the tunnel." })
export type AddressStatus = typeof AddressStatus.Type

const Strings = (description: string) =>
  Schema.optionalKey(
    Schema.Array(Schema.String.annotate({ description: "An address." })).annotate({
      description,
      "x-kubernetes-list-type": "atomic",
    }),
  )

/** The DNS records Fly asks for a hostname (its `dns_requirements`), any one path of which validates it. */
export const DnsRequirements = Schema.Struct({
  a: Strings("A records pointing the hostname at the tunnel's IPv4."),
  aaaa: Strings("AAAA records pointing the hostname at the tunnel's IPv6."),
  cname: Schema.optionalKey(
    Schema.String.annotate({ description: "Or a CNAME to this name (<app>.fly.dev) instead of A/AAAA." }),
  ),
  acmeChallenge: Schema.optionalKey(
    Schema.Struct({
      name: Schema.String.annotate({ description: "e.g. _acme-challenge.api.example.com" }),
      target: Schema.String.annotate({ description: "The CNAME target Fly answers the DNS-01 challenge on." }),
    }).annotate({ description: "A CNAME for Let's Encrypt's DNS-01 challenge (validates before traffic moves)." }),
  ),
  ownership: Schema.optionalKey(
    Schema.Struct({
      name: Schema.String.annotate({ description: "e.g. _fly-ownership.api.example.com" }),
      value: Schema.String.annotate({ description: "The TXT value proving the hostname is this App's." }),
    }).annotate({ description: "A TXT record proving ownership (needed when the hostname is on another App)." }),
  ),
}).annotate({ description: "DNS records Fly asks for, as it reports them." })

export const CertificateStatus = Schema.Struct({
  hostname: Schema.String.annotate({ description: "The domain." }),
  status: Schema.String.annotate({
    description:
      "Fly's certificate status: pending_validation until DNS validates, then active (also pending_ownership).",
  }),
  dnsRequirements: Schema.optionalKey(DnsRequirements),
  validationErrors: Schema.optionalKey(
    Schema.Array(
      Schema.Struct({
        code: Schema.String.annotate({ description: "Fly's error code, e.g. DNS_NOT_CONFIGURED." }),
        message: Schema.String.annotate({ description: "Fly's words for it." }),
        remediation: Schema.optionalKey(Schema.String.annotate({ description: "What Fly says to do." })),
      }).annotate({ description: "One validation error." }),
    ).annotate({ description: "What Fly found wrong the last time it checked.", "x-kubernetes-list-type": "atomic" }),
  ),
  rateLimitedUntil: Schema.optionalKey(
    Time.annotate({ description: "Let's Encrypt's rate limit holds issuance back until then." }),
  ),
}).annotate({ description: "One hostname's Fly certificate and what it waits for." })
export type CertificateStatus = typeof CertificateStatus.Type

export const FlyTunnelStatus = Schema.Struct({
  observedGeneration: Schema.optionalKey(
    Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)).annotate({
      description: "The metadata.generation the status was last computed from.",
    }),
  ),
  phase: Schema.optionalKey(Phase.annotate({ description: `Summary of the conditions: ${Phases.join(", ")}.` })),
  conditions: Schema.optionalKey(
    Schema.Array(Condition).annotate({
      description:
        "Ready, AppReady, MachinesReady, AddressReady and ClientReady (Ready sums up the other four), and CertificatesReady on a tunnel with hostnames, with reasons and messages.",
      "x-kubernetes-list-type": "map",
      "x-kubernetes-list-map-keys": ["type"],
    }),
  ),
  app: Schema.optionalKey(AppStatus),
  tls: Schema.optionalKey(TlsStatus),
  machines: Schema.optionalKey(
    Schema.Array(MachineStatus).annotate({
      description: "The frps Machines, one per region.",
      "x-kubernetes-list-type": "map",
      "x-kubernetes-list-map-keys": ["id"],
    }),
  ),
  addresses: Schema.optionalKey(
    Schema.Array(AddressStatus).annotate({
      description: "Public addresses of the tunnel.",
      "x-kubernetes-list-type": "map",
      "x-kubernetes-list-map-keys": ["ip"],
    }),
  ),
  hostname: Schema.optionalKey(
    Schema.String.annotate({
      description:
        "<app>.fly.dev: the tunnel's Fly hostname, always served (TLS on edge ports); a CNAME target for its domains.",
    }),
  ),
  certificates: Schema.optionalKey(
    Schema.Array(CertificateStatus).annotate({
      description: "The Fly certificate of each spec.hostnames entry: its state and the DNS records it waits for.",
      "x-kubernetes-list-type": "map",
      "x-kubernetes-list-map-keys": ["hostname"],
    }),
  ),
  target: Schema.optionalKey(
    Schema.String.annotate({ description: "The target, for display: svc/<name> or the address host." }),
  ),
  regions: Schema.optionalKey(
    Schema.String.annotate({ description: "The regions of the spec, for display: comma-separated." }),
  ),
  targetAddress: Schema.optionalKey(
    Schema.String.annotate({
      description:
        "The address frpc dials: the target Service's ClusterIP, or the address target as resolved and checked against the cluster's policy (a host name is pinned to the address that was checked).",
    }),
  ),
  configHash: Schema.optionalKey(
    Schema.String.annotate({
      description: "Hash of the Machine config last applied; the operator updates Machines only when it changes.",
    }),
  ),
}).annotate({ description: "Observed state of the tunnel, written by the operator." })
export type FlyTunnelStatus = typeof FlyTunnelStatus.Type
