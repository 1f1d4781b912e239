import { BlockList, isIP } from "node:net"
import { Effect, Schema } from "effect"
import { celRule, transitionRule } from "./celRule.ts"
import { MAX_FRPC_REPLICAS, MAX_PORTS, MAX_REGIONS } from "./constants.ts"
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
    "Whether the tunnel also gets a public IPv6 (free on Fly) beside its dedicated IPv4. TCP only: Fly carries no UDP over IPv6. Turning it off releases the IPv6. Defaults to true.",
  ),
}).annotate({
  description: "Desired state of the tunnel. Every field may change unless its description says otherwise.",
})
export type FlyTunnelSpec = typeof FlyTunnelSpec.Type
export type FlyTunnelSpecInput = typeof FlyTunnelSpec.Encoded
