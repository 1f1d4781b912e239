import { BlockList, isIP, isIPv4 } from "node:net"
import { Effect, Schema } from "effect"
import { celRule, transitionRule } from "./celRule.ts"
import { MAX_FRPC_REPLICAS, MAX_HOSTNAMES, MAX_PORTS, MAX_REGIONS } from "./constants.ts"
import { DEFAULT_MACHINE_SIZE, MACHINE_SIZES, MachineSize } from "./machineSize.ts"

const DNS_LABEL = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
const DNS_1035_LABEL = "^[a-z]([-a-z0-9]*[a-z0-9])?$"
const DNS_SUBDOMAIN = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
/** Kubernetes' quantity syntax, without a sign: resources are never negative. */
const QUANTITY =
  "^\\+?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$"

/** A field that decodes to `value` when absent; the CRD gets the same `default`. */
const withDefault = <S extends Schema.Top>(schema: S, value: S["Encoded"], description: string) =>
  Schema.withDecodingDefaultKey<S>(Effect.succeed(value))(schema.annotate({ description, default: value }) as S)

const IPV4_MAPPED = new BlockList()
IPV4_MAPPED.addSubnet("::ffff:0:0", 96, "ipv6")

/**
 * An IP address as Kubernetes' CEL `isIP()` takes it: no zone (`fe80::1%eth0`) and no IPv4-mapped IPv6 address
 * (`::ffff:10.0.0.1`, which would hide an IPv4 address from IPv4 rules).
 */
const isKubernetesIP = (host: string): boolean =>
  (isIP(host) === 4 || isIP(host) === 6) &&
  !host.includes("%") &&
  !(isIP(host) === 6 && IPV4_MAPPED.check(host, "ipv6"))

const PortNumber = Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 65535 }))

export const ServiceTarget = Schema.Struct({
  name: Schema.String.check(Schema.isMaxLength(63), Schema.isPattern(new RegExp(DNS_1035_LABEL, "u"))).annotate({
    description: "Name of a Service in the FlyTunnel's namespace. frpc dials its ClusterIP.",
  }),
}).annotate({ description: "A Service in the same namespace as the FlyTunnel." })

export const AddressTarget = Schema.Struct({
  host: Schema.String.check(
    Schema.isMaxLength(253),
    celRule<string>(
      {
        rule: `isIP(self) || self.matches('${DNS_SUBDOMAIN}')`,
        message: "must be an IPv4 or IPv6 address or a lower-case DNS name",
      },
      (host) => isKubernetesIP(host) || new RegExp(DNS_SUBDOMAIN, "u").test(host),
    ),
  ).annotate({
    description:
      "IP address or DNS name of the host. The cluster admin decides which addresses may be published (chart values addressTargets.*); loopback, link-local, unspecified, the cluster's own ranges and *.svc / *.cluster.local names never are. A name is resolved by the operator, every address it stands for is checked, and frpc dials the checked address (status.targetAddress), re-resolved on every resync.",
  }),
}).annotate({ description: "A host outside the cluster's Services, reachable from the frpc Pods." })

export const Target = Schema.Struct({
  service: Schema.optionalKey(ServiceTarget),
  address: Schema.optionalKey(AddressTarget),
})
  .check(
    celRule<{ readonly service?: unknown; readonly address?: unknown }>(
      { rule: "has(self.service) != has(self.address)", message: "exactly one of service or address must be set" },
      (target) => (target.service === undefined) !== (target.address === undefined),
    ),
    transitionRule({
      rule: "has(self.service) == has(oldSelf.service)",
      message: "cannot switch between service and address after creation; create a new FlyTunnel",
    }),
  )
  .annotate({
    description:
      "Where the tunnel delivers traffic: exactly one of service or address. Whether it is a service or an address cannot change after creation (the name or host can).",
  })
export type Target = typeof Target.Type

export const Protocols = ["TCP", "UDP"] as const
export const ProxyProtocols = ["none", "v1", "v2"] as const
/**
 * What Fly's edge does to a port's connections before the tunnel: nothing (raw TCP, TLS passes through to the
 * target), `tls` (Fly terminates TLS with its certificate), `http` (Fly speaks HTTP to the target, adding
 * X-Forwarded-For/-Proto and Fly-Client-IP), or `tls+http` (both). Fly's port handlers of the same names.
 */
export const Edges = ["none", "tls", "http", "tls+http"] as const
export type Edge = (typeof Edges)[number]
export const Ipv4Kinds = ["dedicated", "shared"] as const
export type Ipv4Kind = (typeof Ipv4Kinds)[number]

export const Port = Schema.Struct({
  name: Schema.String.check(Schema.isMaxLength(63), Schema.isPattern(new RegExp(DNS_LABEL, "u"))).annotate({
    description: "Name of the port, unique in the tunnel (a DNS label). It names the frp proxy.",
  }),
  port: PortNumber.annotate({ description: "Public port on the tunnel's Fly address (1-65535)." }),
  protocol: withDefault(
    Schema.Literals(Protocols).annotate({ expected: "TCP or UDP (Fly cannot carry SCTP)" }),
    "TCP",
    "TCP or UDP. Defaults to TCP.",
  ),
  targetPort: Schema.optionalKey(PortNumber).annotate({
    description: "Port on the target that receives the traffic (1-65535). Defaults to port.",
  }),
  proxyProtocol: withDefault(
    Schema.Literals(ProxyProtocols).annotate({ expected: "none, v1 or v2" }),
    "none",
    "PROXY protocol header Fly's edge prepends so the target sees the client's address: none, v1 or v2. TCP only. Defaults to none.",
  ),
  edge: withDefault(
    Schema.Literals(Edges).annotate({ expected: "none, tls, http or tls+http" }),
    "none",
    "What Fly's edge does before the tunnel: none (raw TCP; TLS passes through to the target), tls (Fly terminates TLS with a Fly-managed certificate for the tunnel's hostnames and <app>.fly.dev and sends plain TCP on), http (Fly speaks HTTP to the target and adds X-Forwarded-For, X-Forwarded-Proto and Fly-Client-IP) or tls+http (both). TCP only. Defaults to none.",
  ),
  forceHttps: Schema.optionalKey(
    Schema.Boolean.annotate({
      description: "With edge http: Fly answers every plain HTTP request with a redirect (301) to HTTPS.",
    }),
  ),
})
  .check(
    celRule<{ readonly protocol: string; readonly proxyProtocol: string }>(
      {
        rule: "self.protocol == 'TCP' || self.proxyProtocol == 'none'",
        message: "proxyProtocol is only supported on TCP ports",
        fieldPath: ".proxyProtocol",
      },
      (port) =>
        port.protocol === "TCP" ||
        port.proxyProtocol === "none" || {
          path: ["proxyProtocol"],
          issue: "proxyProtocol is only supported on TCP ports",
        },
    ),
    celRule<{ readonly protocol: string; readonly edge: string }>(
      {
        rule: "self.protocol == 'TCP' || self.edge == 'none'",
        message: "edge is only supported on TCP ports (Fly's edge passes UDP through untouched)",
        fieldPath: ".edge",
      },
      (port) =>
        port.protocol === "TCP" ||
        port.edge === "none" || {
          path: ["edge"],
          issue: "edge is only supported on TCP ports (Fly's edge passes UDP through untouched)",
        },
    ),
    celRule<{ readonly proxyProtocol: string; readonly edge: string }>(
      {
        rule: "self.edge == 'none' || self.proxyProtocol == 'none'",
        message:
          "proxyProtocol needs edge none: Fly's edge ends the client's connection for tls and http (http passes the client's address as Fly-Client-IP and X-Forwarded-For)",
        fieldPath: ".proxyProtocol",
      },
      (port) =>
        port.edge === "none" ||
        port.proxyProtocol === "none" || {
          path: ["proxyProtocol"],
          issue:
            "proxyProtocol needs edge none: Fly's edge ends the client's connection for tls and http (http passes the client's address as Fly-Client-IP and X-Forwarded-For)",
        },
    ),
    celRule<{ readonly edge: string; readonly forceHttps?: boolean }>(
      {
        rule: "!has(self.forceHttps) || !self.forceHttps || self.edge == 'http'",
        message: "forceHttps needs edge http (Fly redirects plain HTTP requests; a TLS port is HTTPS already)",
        fieldPath: ".forceHttps",
      },
      (port) =>
        port.forceHttps !== true ||
        port.edge === "http" || {
          path: ["forceHttps"],
          issue: "forceHttps needs edge http (Fly redirects plain HTTP requests; a TLS port is HTTPS already)",
        },
    ),
  )
  .annotate({ description: "One port published on the tunnel's public address and forwarded to the target." })
export type Port = typeof Port.Type

/** The port on the target a tunnel port delivers to. */
export const targetPortOf = (port: Port): number => port.targetPort ?? port.port

/** Issues for every item whose key repeats an earlier item's, at `[index, ...field]`. */
const duplicates = <A>(
  items: ReadonlyArray<A>,
  key: (item: A) => string,
  field: ReadonlyArray<string>,
  issue: string,
) =>
  items.flatMap((item, index) =>
    items.findIndex((other) => key(other) === key(item)) < index ? [{ path: [index, ...field], issue }] : [],
  )

export const Ports = Schema.Array(Port)
  .check(
    Schema.isMinLength(1),
    Schema.isMaxLength(MAX_PORTS),
    celRule<ReadonlyArray<Port>>(
      { rule: "self.all(p, self.exists_one(q, q.name == p.name))", message: "port names must be unique" },
      (ports) => duplicates(ports, (port) => port.name, ["name"], "port names must be unique"),
    ),
    celRule<ReadonlyArray<Port>>(
      {
        rule: "self.all(p, self.exists_one(q, q.port == p.port && q.protocol == p.protocol))",
        message: "a port number may appear once per protocol",
      },
      (ports) =>
        duplicates(
          ports,
          (port) => `${port.port}/${port.protocol}`,
          ["port"],
          "a port number may appear once per protocol",
        ),
    ),
  )
  .annotate({
    description: `Ports published on the tunnel's address, 1 to ${MAX_PORTS}; unique names, and a port number at most once per protocol.`,
    "x-kubernetes-list-type": "map",
    "x-kubernetes-list-map-keys": ["port", "protocol"],
  })

export const REGION_PATTERN = "^[a-z]{3}$"

/** A Fly region code. Whether Fly has the region is for Fly to say; the form is checked here. */
export const Region = Schema.String.check(
  Schema.isPattern(new RegExp(REGION_PATTERN, "u"), {
    expected: "a Fly region code: three lowercase letters, e.g. ord",
  }),
).annotate({
  description: "A Fly region code, e.g. ord.",
})

export const Regions = Schema.Array(Region)
  .check(
    Schema.isMinLength(1, { expected: "at least one region" }),
    Schema.isMaxLength(MAX_REGIONS, { expected: `at most ${MAX_REGIONS} regions` }),
    // Enforced at admission by list-type "set" (uniqueItems is not allowed in a CRD).
    Schema.makeFilter<ReadonlyArray<string>>(
      (regions) => duplicates(regions, (region) => region, [], "regions must be unique"),
      { expected: "unique regions", toJsonSchema: () => ({}) },
    ),
  )
  .annotate({
    description: `Fly regions to run in, one Machine each (1 to ${MAX_REGIONS}, unique). Adding a region adds a Machine; removing one removes its Machine. The public address is kept.`,
    "x-kubernetes-list-type": "set",
  })

const Quantity = Schema.Union([
  Schema.String.check(
    Schema.isPattern(new RegExp(QUANTITY, "u"), { expected: "a Kubernetes quantity such as 10m, 0.5, 32Mi or 1Gi" }),
  ),
  Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)),
]).annotate({ "x-kubernetes-int-or-string": true })

const quantity = (description: string) => Schema.optionalKey(Quantity.annotate({ description }))

const ResourceList = (what: string) =>
  Schema.Struct({
    cpu: quantity(`CPU ${what}, a Kubernetes quantity (e.g. 10m).`),
    memory: quantity(`Memory ${what}, a Kubernetes quantity (e.g. 32Mi).`),
  })

export const Resources = Schema.Struct({
  requests: Schema.optionalKey(ResourceList("request").annotate({ description: "Resources the scheduler reserves." })),
  limits: Schema.optionalKey(ResourceList("limit").annotate({ description: "Resources frpc may not exceed." })),
}).annotate({
  description: "Compute resources of the frpc container. Defaults: requests cpu 10m, memory 32Mi; limits memory 128Mi.",
})

export const Toleration = Schema.Struct({
  key: Schema.optionalKey(
    Schema.String.annotate({ description: "Taint key; empty with operator Exists matches all." }),
  ),
  operator: Schema.optionalKey(
    Schema.Literals(["Exists", "Equal"]).annotate({ description: "Exists or Equal (default Equal)." }),
  ),
  value: Schema.optionalKey(Schema.String.annotate({ description: "Taint value matched with operator Equal." })),
  effect: Schema.optionalKey(
    Schema.Literals(["NoSchedule", "PreferNoSchedule", "NoExecute"]).annotate({
      description: "Taint effect to match; empty matches all.",
    }),
  ),
  tolerationSeconds: Schema.optionalKey(
    Schema.Int.annotate({ description: "For NoExecute: how long the Pod stays bound after the taint appears." }),
  ),
}).annotate({ description: "A Kubernetes toleration for the frpc Pods." })

export const Frpc = Schema.Struct({
  replicas: withDefault(
    Schema.Int.check(
      Schema.isBetween(
        { minimum: 1, maximum: MAX_FRPC_REPLICAS },
        { expected: `a whole number from 1 to ${MAX_FRPC_REPLICAS}` },
      ),
    ),
    1,
    `Number of frpc Pods (1-${MAX_FRPC_REPLICAS}); more than one share each TCP port through an frp load-balancing group. Defaults to 1.`,
  ),
  resources: Schema.optionalKey(Resources),
  nodeSelector: Schema.optionalKey(
    Schema.Record(Schema.String, Schema.String).annotate({ description: "Node labels the frpc Pods must run on." }),
  ),
  tolerations: Schema.optionalKey(
    Schema.Array(Toleration).annotate({
      description: "Tolerations of the frpc Pods.",
      "x-kubernetes-list-type": "atomic",
    }),
  ),
})

/** A domain name: lower-case labels, at least two, no wildcard (Fly validates a wildcard only through DNS-01). */
const HOSTNAME = "^([a-z0-9]([-a-z0-9]*[a-z0-9])?[.])+[a-z0-9]([-a-z0-9]*[a-z0-9])?$"

export const Hostname = Schema.String.check(
  Schema.isMaxLength(253),
  Schema.isPattern(new RegExp(HOSTNAME, "u"), {
    expected: "a lower-case domain name such as api.example.com (no wildcard)",
  }),
  celRule<string>(
    {
      rule: "!self.endsWith('.fly.dev')",
      message: "names under fly.dev are Fly's own; the tunnel's <app>.fly.dev is always served without being listed",
    },
    (host) => !host.endsWith(".fly.dev"),
  ),
).annotate({ description: "A domain name the tunnel serves, e.g. api.example.com." })

export const Hostnames = Schema.Array(Hostname)
  .check(
    Schema.isMaxLength(MAX_HOSTNAMES, { expected: `at most ${MAX_HOSTNAMES} hostnames` }),
    // Enforced at admission by list-type "set".
    Schema.makeFilter<ReadonlyArray<string>>(
      (hosts) => duplicates(hosts, (host) => host, [], "hostnames must be unique"),
      { expected: "unique hostnames", toJsonSchema: () => ({}) },
    ),
  )
  .annotate({
    description: `Domains the tunnel serves (at most ${MAX_HOSTNAMES}, unique): Fly issues a Let's Encrypt certificate for each once its DNS points at the tunnel (status.certificates says which records to create), and its edge terminates TLS with it on edge tls and tls+http ports. Removing a hostname removes its certificate.`,
    "x-kubernetes-list-type": "set",
  })

/** Why a port cannot be carried on a shared IPv4 (Fly routes a shared IPv4 by hostname only), or undefined. */
export const sharedIpv4Refusal = (port: {
  readonly port: number
  readonly protocol: string
  readonly edge: string
  readonly proxyProtocol: string
}): string | undefined => {
  const fix = "or ipv4: dedicated (a dedicated IPv4, $2/month)"
  if (port.protocol !== "TCP")
    return `port ${port.port}/UDP cannot be carried on a shared IPv4 (Fly carries UDP only on a dedicated IPv4): use ipv4: dedicated ($2/month)`
  if (port.proxyProtocol !== "none")
    return `port ${port.port} uses proxyProtocol, which a shared IPv4 cannot carry (Fly routes it by hostname): use ipv4: dedicated ($2/month)`
  if (port.port === 80)
    return port.edge === "http"
      ? undefined
      : `port 80 on a shared IPv4 must be edge http (Fly routes it by the Host header): set edge: http ${fix}`
  return port.edge === "tls" || port.edge === "tls+http"
    ? undefined
    : `port ${port.port} is ${port.edge === "none" ? "raw TCP" : `edge ${port.edge}`}, which a shared IPv4 cannot carry (Fly routes it by TLS SNI, so only edge tls or tls+http): set edge: tls ${fix}`
}

const SHARED_IPV4_RULE =
  "self.ipv4 != 'shared' || self.ports.all(p, p.protocol == 'TCP' && p.proxyProtocol == 'none' && (p.port == 80 ? p.edge == 'http' : (p.edge == 'tls' || p.edge == 'tls+http')))"

export const Adopt = Schema.Struct({
  app: Schema.String.check(
    Schema.isMaxLength(63),
    Schema.isPattern(new RegExp(DNS_LABEL, "u"), { expected: "a Fly App name: lowercase letters, digits and dashes" }),
  ).annotate({
    description:
      "Name of the Fly App to take over: the Go fly-tunnel-operator's (fly-tunnel-<namespace>-<service>-<org>), or one this cluster made for a FlyTunnel that is gone (fto-<name>-<uid>).",
  }),
  ipv4: Schema.String.check(
    Schema.isMaxLength(15),
    celRule<string>(
      { rule: "isIP(self) && ip(self).family() == 4", message: "must be an IPv4 address, e.g. 203.0.113.7" },
      (ip) => isIPv4(ip),
    ),
  ).annotate({
    description:
      "The App's dedicated IPv4, which the tunnel keeps as its address. The App must hold it, or nothing is taken over.",
  }),
}).annotate({
  description:
    "Take over an existing Fly App instead of creating one, keeping its dedicated IPv4: its Machines are replaced by the tunnel's, and it is marked as this cluster's and this tunnel's. Only an App of this organization that no other cluster or live FlyTunnel holds is taken. Set when the FlyTunnel is created; it cannot be added, changed or removed later. Deleting the FlyTunnel deletes the App.",
})
export type Adopt = typeof Adopt.Type

export const FlyTunnelSpec = Schema.Struct({
  target: Target,
  ports: Ports,
  regions: Regions,
  machineSize: withDefault(
    MachineSize,
    DEFAULT_MACHINE_SIZE,
    `Fly Machine size preset of each frps Machine: ${MACHINE_SIZES.join(", ")}. Changing it updates the Machines in place. Defaults to ${DEFAULT_MACHINE_SIZE}.`,
  ),
  frpc: withDefault(
    Frpc,
    {},
    "The in-cluster frpc Deployment that carries traffic from Fly to the target. All fields may change; the Deployment rolls.",
  ),
  ipv6: withDefault(
    Schema.Boolean,
    true,
    "Whether the tunnel also gets a public IPv6 (free on Fly) beside its IPv4. TCP only: Fly carries no UDP over IPv6. Turning it off releases the IPv6. A tunnel on a shared IPv4 needs it: frpc reaches frps over it. Defaults to true.",
  ),
  ipv4: withDefault(
    Schema.Literals(Ipv4Kinds).annotate({ expected: "dedicated or shared" }),
    "dedicated",
    "The tunnel's IPv4: dedicated (its own, $2/month; carries anything) or shared (free; Fly routes it by hostname, so every port must be edge http on port 80 or edge tls / tls+http on the others, and frpc reaches frps over the tunnel's IPv6, which the cluster must be able to dial). Changing it moves the tunnel to a new IPv4. Defaults to dedicated.",
  ),
  hostnames: withDefault(Hostnames, [], "Domains the tunnel serves, each with a Fly certificate. Defaults to none."),
  adopt: Schema.optionalKey(Adopt),
})
  .check(
    celRule<{ readonly ipv4: string; readonly ports: ReadonlyArray<Port> }>(
      {
        rule: SHARED_IPV4_RULE,
        message:
          "a shared IPv4 is routed by hostname: every port must be TCP without proxyProtocol, edge http on port 80 and edge tls or tls+http on the others; anything else needs ipv4: dedicated (a dedicated IPv4, $2/month)",
        fieldPath: ".ports",
      },
      (spec) =>
        spec.ipv4 !== "shared" ||
        spec.ports.flatMap((port, index) => {
          const refusal = sharedIpv4Refusal(port)
          return refusal === undefined ? [] : [{ path: ["ports", index], issue: refusal }]
        }),
    ),
    celRule<{ readonly ipv4: string; readonly ipv6: boolean }>(
      {
        rule: "self.ipv4 != 'shared' || self.ipv6",
        message:
          "a shared IPv4 carries no raw TCP, so frpc reaches frps over the tunnel's IPv6: set ipv6: true (the frpc Pods need IPv6 egress) or use ipv4: dedicated ($2/month)",
        fieldPath: ".ipv6",
      },
      (spec) =>
        spec.ipv4 !== "shared" ||
        spec.ipv6 || {
          path: ["ipv6"],
          issue:
            "a shared IPv4 carries no raw TCP, so frpc reaches frps over the tunnel's IPv6: set ipv6: true (the frpc Pods need IPv6 egress) or use ipv4: dedicated ($2/month)",
        },
    ),
    celRule<{ readonly hostnames: ReadonlyArray<string>; readonly ports: ReadonlyArray<Port> }>(
      {
        rule: "size(self.hostnames) == 0 || self.ports.exists(p, p.edge != 'none')",
        message:
          "hostnames get Fly certificates that only Fly's edge uses: set edge (tls, http or tls+http) on at least one port",
        fieldPath: ".hostnames",
      },
      (spec) =>
        spec.hostnames.length === 0 ||
        spec.ports.some((port) => port.edge !== "none") || {
          path: ["hostnames"],
          issue:
            "hostnames get Fly certificates that only Fly's edge uses: set edge (tls, http or tls+http) on at least one port",
        },
    ),
    celRule<{ readonly ipv4: string; readonly adopt?: unknown }>(
      {
        rule: "!has(self.adopt) || self.ipv4 == 'dedicated'",
        message: "an adopted App keeps its dedicated IPv4 (adopt.ipv4): ipv4 must be dedicated",
        fieldPath: ".ipv4",
      },
      (spec) =>
        spec.adopt === undefined ||
        spec.ipv4 === "dedicated" || {
          path: ["ipv4"],
          issue: "an adopted App keeps its dedicated IPv4 (adopt.ipv4): ipv4 must be dedicated",
        },
    ),
    transitionRule({
      rule: "has(self.adopt) == has(oldSelf.adopt) && (!has(self.adopt) || self.adopt == oldSelf.adopt)",
      message: "adopt is set when the FlyTunnel is created and cannot be added, changed or removed later",
      fieldPath: ".adopt",
    }),
  )
  .annotate({
    description: "Desired state of the tunnel. Every field may change unless its description says otherwise.",
  })
export type FlyTunnelSpec = typeof FlyTunnelSpec.Type
export type FlyTunnelSpecInput = typeof FlyTunnelSpec.Encoded
