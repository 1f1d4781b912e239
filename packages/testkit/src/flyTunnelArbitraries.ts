// Generated FlyTunnel specs and Service annotations, valid and invalid, for property tests of the operator (fast
// tier: the operator judges what admission never saw) and of admission (the real API server with the CRD and the
// chart's policy). Each invalid case says which field it breaks; whoever refuses it must name that field.
import fc from "fast-check"

/** A generated case: the input, and the field a refusal must name (undefined: the input is valid). */
export interface GeneratedCase<A> {
  readonly input: A
  /** What the break is, for failure messages. */
  readonly broken?: string
  /** The field a refusal names (a prefix of the path: `spec.ports` covers `spec.ports[1].name`). */
  readonly field?: string
  /** Refused by the cluster's policy (chart defaults), not by the schema: the decoder alone accepts it. */
  readonly policy?: boolean
}

const REGIONS = ["ord", "ams", "fra", "sin", "syd", "iad", "lhr", "nrt"] as const
const SIZES = ["shared-cpu-1x", "shared-cpu-2x", "performance-1x"] as const

const label = fc.stringMatching(/^[a-z]([-a-z0-9]{0,10}[a-z0-9])?$/)

/** Addresses the chart's default policy allows (private, not loopback or link-local). */
const allowedAddress = fc.oneof(
  fc.tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 1, max: 254 })).map(([c, d]) => `192.168.${c}.${d}`),
  fc.integer({ min: 1, max: 0xffff }).map((n) => `fd00:5::${n.toString(16)}`),
)

const quantity = fc.constantFrom("10m", "0.5", "1", "32Mi", "1Gi", "250m")

const validPorts = fc
  .uniqueArray(fc.tuple(label, fc.integer({ min: 1, max: 65535 }), fc.constantFrom("TCP", "UDP")), {
    minLength: 1,
    maxLength: 3,
    selector: ([name]) => name,
  })
  .filter((ports) => new Set(ports.map(([, port, protocol]) => `${port}/${protocol}`)).size === ports.length)
  .chain((ports) =>
    fc.tuple(
      ...ports.map(([name, port, protocol]) =>
        fc.record(
          {
            name: fc.constant(name),
            port: fc.constant(port),
            protocol: fc.constant(protocol),
            targetPort: fc.integer({ min: 1, max: 65535 }),
            proxyProtocol: protocol === "TCP" ? fc.constantFrom("none", "v1", "v2") : fc.constant("none"),
          },
          { requiredKeys: ["name", "port"] },
        ),
      ),
    ),
  )

/** A spec the CRD, the decoder and the chart's default policy all accept. */
const validSpec = fc.record(
  {
    target: fc.oneof(
      label.map((name) => ({ service: { name } })),
      allowedAddress.map((host) => ({ address: { host } })),
    ),
    ports: validPorts,
    regions: fc.uniqueArray(fc.constantFrom(...REGIONS), { minLength: 1, maxLength: 3 }),
    machineSize: fc.constantFrom(...SIZES),
    ipv6: fc.boolean(),
    frpc: fc.record(
      {
        replicas: fc.integer({ min: 1, max: 10 }),
        resources: fc.record({ requests: fc.record({ cpu: quantity, memory: quantity }, { requiredKeys: [] }) }),
      },
      { requiredKeys: [] },
    ),
  },
  { requiredKeys: ["target", "ports", "regions"] },
)
type Spec = typeof validSpec extends fc.Arbitrary<infer A> ? A : never
type Break = readonly [broken: string, field: string, mutate: (spec: Spec) => unknown, policy?: boolean]

const withPort = (spec: Spec, patch: Record<string, unknown>) => ({
  ...spec,
  ports: [{ ...spec.ports[0], ...patch }, ...spec.ports.slice(1)],
})

/** Ways to break one field of a valid spec, each with the field a refusal must name. */
const breaks: ReadonlyArray<Break> = [
  ["no target", "spec.target", (spec) => ({ ...spec, target: {} })],
  [
    "two targets",
    "spec.target",
    (spec) => ({ ...spec, target: { service: { name: "web" }, address: { host: "192.168.1.2" } } }),
  ],
  [
    "a host that is no host",
    "spec.target.address.host",
    (spec) => ({ ...spec, target: { address: { host: "not a host!" } } }),
  ],
  [
    "an IPv4-mapped IPv6 host",
    "spec.target.address.host",
    (spec) => ({ ...spec, target: { address: { host: "::ffff:192.168.1.2" } } }),
  ],
  [
    "a host with a zone",
    "spec.target.address.host",
    (spec) => ({ ...spec, target: { address: { host: "fe80::1%eth0" } } }),
  ],
  [
    "a Service name with capitals",
    "spec.target.service.name",
    (spec) => ({ ...spec, target: { service: { name: "Web_1" } } }),
  ],
  ["no ports", "spec.ports", (spec) => ({ ...spec, ports: [] })],
  ["port 0", "spec.ports[0].port", (spec) => withPort(spec, { port: 0 })],
  ["port 65536", "spec.ports[0].port", (spec) => withPort(spec, { port: 65536 })],
  ["a fractional port", "spec.ports[0].port", (spec) => withPort(spec, { port: 80.5 })],
  ["targetPort 70000", "spec.ports[0].targetPort", (spec) => withPort(spec, { targetPort: 70000 })],
  ["protocol SCTP", "spec.ports[0].protocol", (spec) => withPort(spec, { protocol: "SCTP" })],
  ["protocol in lower case", "spec.ports[0].protocol", (spec) => withPort(spec, { protocol: "tcp" })],
  [
    "PROXY protocol on UDP",
    "spec.ports[0].proxyProtocol",
    (spec) => withPort(spec, { protocol: "UDP", proxyProtocol: "v2" }),
  ],
  ["an unknown PROXY version", "spec.ports[0].proxyProtocol", (spec) => withPort(spec, { proxyProtocol: "v3" })],
  ["a port name with capitals", "spec.ports[0].name", (spec) => withPort(spec, { name: "HTTP" })],
  [
    "a repeated port name",
    "spec.ports",
    (spec) => ({
      ...spec,
      ports: [...spec.ports, { ...spec.ports[0], port: ((spec.ports[0]?.port as number) % 65535) + 1 }],
    }),
  ],
  ["no regions", "spec.regions", (spec) => ({ ...spec, regions: [] })],
  ["a region in capitals", "spec.regions[0]", (spec) => ({ ...spec, regions: ["ORD"] })],
  ["a four-letter region", "spec.regions[0]", (spec) => ({ ...spec, regions: ["ordx"] })],
  ["a repeated region", "spec.regions[1]", (spec) => ({ ...spec, regions: ["ord", "ord"] })],
  [
    "eleven regions",
    "spec.regions",
    (spec) => ({ ...spec, regions: ["ams", "arn", "bom", "cdg", "dfw", "ewr", "fra", "gru", "iad", "jnb", "lax"] }),
  ],
  ["an unknown machine size", "spec.machineSize", (spec) => ({ ...spec, machineSize: "shared-cpu-3x" })],
  ["ipv6 as text", "spec.ipv6", (spec) => ({ ...spec, ipv6: "yes" })],
  ["zero frpc replicas", "spec.frpc.replicas", (spec) => ({ ...spec, frpc: { replicas: 0 } })],
  ["eleven frpc replicas", "spec.frpc.replicas", (spec) => ({ ...spec, frpc: { replicas: 11 } })],
  [
    "a CPU request that is no quantity",
    "spec.frpc.resources.requests.cpu",
    (spec) => ({ ...spec, frpc: { resources: { requests: { cpu: "lots" } } } }),
  ],
  [
    "a negative memory limit",
    "spec.frpc.resources.limits.memory",
    (spec) => ({ ...spec, frpc: { resources: { limits: { memory: "-1Gi" } } } }),
  ],
  [
    "a loopback address",
    "spec.target.address.host",
    (spec) => ({ ...spec, target: { address: { host: "127.0.0.1" } } }),
    true,
  ],
  [
    "the metadata address",
    "spec.target.address.host",
    (spec) => ({ ...spec, target: { address: { host: "169.254.169.254" } } }),
    true,
  ],
  [
    "an IPv6 link-local address",
    "spec.target.address.host",
    (spec) => ({ ...spec, target: { address: { host: "fe80::1" } } }),
    true,
  ],
  [
    "a public address",
    "spec.target.address.host",
    (spec) => ({ ...spec, target: { address: { host: "8.8.8.8" } } }),
    true,
  ],
  [
    "a cluster DNS name",
    "spec.target.address.host",
    (spec) => ({ ...spec, target: { address: { host: "web.default.svc" } } }),
    true,
  ],
  [
    "a host name no suffix allows",
    "spec.target.address.host",
    (spec) => ({ ...spec, target: { address: { host: "db.example.com" } } }),
    true,
  ],
]

/** A valid spec, or one with exactly one field broken; about two thirds are broken. */
export const specCase: fc.Arbitrary<GeneratedCase<unknown>> = fc.oneof(
  { weight: 1, arbitrary: validSpec.map((input): GeneratedCase<unknown> => ({ input })) },
  {
    weight: 2,
    arbitrary: fc.tuple(validSpec, fc.constantFrom(...breaks)).map(
      ([spec, [broken, field, mutate, policy]]): GeneratedCase<unknown> => ({
        input: mutate(spec),
        broken,
        field,
        ...(policy === true ? { policy } : {}),
      }),
    ),
  },
)

const ANNOTATION = "fly-tunnel-operator.dev"

/** Valid values of each tuning annotation a Service may carry. */
const validAnnotations = fc.record(
  {
    [`${ANNOTATION}/fly-region`]: fc.constantFrom(...REGIONS),
    [`${ANNOTATION}/fly-regions`]: fc
      .uniqueArray(fc.constantFrom(...REGIONS), { minLength: 1, maxLength: 3 })
      .map((r) => r.join(",")),
    [`${ANNOTATION}/fly-machine-size`]: fc.constantFrom(...SIZES),
    [`${ANNOTATION}/frpc-cpu-request`]: quantity,
    [`${ANNOTATION}/frpc-memory-limit`]: quantity,
    [`${ANNOTATION}/proxy-protocol`]: fc.constantFrom("none", "v1", "v2"),
    [`${ANNOTATION}/frpc-replicas`]: fc.integer({ min: 1, max: 10 }).map(String),
    [`${ANNOTATION}/ignore-source-ranges`]: fc.constantFrom("true", "false"),
    [`${ANNOTATION}/ipv6`]: fc.constantFrom("true", "false"),
  },
  { requiredKeys: [] },
)

/** One annotation given a value the operator refuses; the refusal must name the annotation. */
const annotationBreaks: ReadonlyArray<readonly [string, string]> = [
  [`${ANNOTATION}/fly-region`, "Chicago"],
  [`${ANNOTATION}/fly-regions`, "ord,ord"],
  [`${ANNOTATION}/fly-regions`, "ord,,ams"],
  [`${ANNOTATION}/fly-machine-size`, "huge"],
  [`${ANNOTATION}/frpc-cpu-request`, "a lot"],
  [`${ANNOTATION}/frpc-memory-limit`, "-5Mi"],
  [`${ANNOTATION}/proxy-protocol`, "v9"],
  [`${ANNOTATION}/frpc-replicas`, "0"],
  [`${ANNOTATION}/frpc-replicas`, "eleven"],
  [`${ANNOTATION}/ignore-source-ranges`, "yes"],
  [`${ANNOTATION}/ipv6`, "maybe"],
]

/** A Service's annotations: valid, or with one annotation broken (the field a refusal must name). */
export const annotationsCase: fc.Arbitrary<GeneratedCase<Record<string, string>>> = fc.oneof(
  validAnnotations.map((input): GeneratedCase<Record<string, string>> => ({ input })),
  fc
    .tuple(validAnnotations, fc.constantFrom(...annotationBreaks))
    .map(([annotations, [annotation, value]]): GeneratedCase<Record<string, string>> => {
      // A single region is overridden by the list: break the one in force.
      const { [`${ANNOTATION}/fly-regions`]: _, ...rest } = annotations
      const base = annotation === `${ANNOTATION}/fly-region` ? rest : annotations
      return { input: { ...base, [annotation]: value }, broken: `${annotation}=${value}`, field: annotation }
    }),
)
