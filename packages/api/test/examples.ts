/** Specs shared by the unit and admission tests: each invalid one names the field it breaks. */
export const validSpecs = {
  serviceTarget: {
    target: { service: { name: "web" } },
    ports: [{ name: "https", port: 443, protocol: "TCP", targetPort: 8443, proxyProtocol: "v2" }],
    regions: ["ord"],
    machineSize: "shared-cpu-1x",
    frpc: { replicas: 1, resources: { requests: { cpu: "10m", memory: "32Mi" } }, nodeSelector: {}, tolerations: [] },
  },
  addressTarget: {
    target: { address: { host: "192.0.2.10" } },
    ports: [
      { name: "dns-udp", port: 53, protocol: "UDP" },
      { name: "dns-tcp", port: 53 },
    ],
    regions: ["ord", "ams"],
  },
  hostnameTarget: {
    target: { address: { host: "db.internal.example.com" } },
    ports: [{ name: "pg", port: 5432 }],
    regions: ["fra"],
    frpc: { replicas: 3, resources: { limits: { cpu: 1, memory: "128Mi" } }, tolerations: [{ operator: "Exists" }] },
  },
  edgeOnSharedIpv4: {
    target: { service: { name: "web" } },
    ports: [
      { name: "http", port: 80, edge: "http", forceHttps: true },
      { name: "https", port: 443, edge: "tls+http" },
      { name: "grpc", port: 8443, edge: "tls" },
    ],
    regions: ["ord"],
    ipv4: "shared",
    hostnames: ["api.example.com", "www.example.com"],
  },
  edgeOnDedicatedIpv4: {
    target: { service: { name: "web" } },
    ports: [
      { name: "https", port: 443, edge: "tls" },
      { name: "pg", port: 5432 },
      { name: "dns", port: 53, protocol: "UDP" },
    ],
    regions: ["ord"],
    hostnames: ["db.example.com"],
  },
  adopting: {
    target: { service: { name: "web" } },
    ports: [{ name: "http", port: 80 }],
    regions: ["ord"],
    adopt: { app: "fly-tunnel-default-web-personal", ipv4: "203.0.113.7" },
  },
  ipv6Target: {
    target: { address: { host: "2001:db8::10" } },
    ports: [{ name: "ssh", port: 22 }],
    regions: ["sin"],
  },
} as const

const base = validSpecs.serviceTarget

/**
 * [description, spec, the field the decoder names, the field the API server names when it differs
 * (its CEL rules on a list name the list; the decoder names the offending item)]
 */
export const invalidSpecs: ReadonlyArray<readonly [string, unknown, string, string?]> = [
  ["no target", { ...base, target: {} }, "spec.target"],
  ["two targets", { ...base, target: { service: { name: "web" }, address: { host: "192.0.2.1" } } }, "spec.target"],
  ["bad host", { ...base, target: { address: { host: "not a host!" } } }, "spec.target.address.host"],
  // The API server's isIP() takes neither (Kubernetes' CEL IP library); the decoder must agree.
  ["IPv4-mapped IPv6 host", { ...base, target: { address: { host: "::ffff:10.0.0.1" } } }, "spec.target.address.host"],
  ["IPv6 host with a zone", { ...base, target: { address: { host: "fe80::1%eth0" } } }, "spec.target.address.host"],
  ["bad service name", { ...base, target: { service: { name: "Web_1" } } }, "spec.target.service.name"],
  ["no ports", { ...base, ports: [] }, "spec.ports"],
  ["port 0", { ...base, ports: [{ name: "a", port: 0 }] }, "spec.ports[0].port"],
  ["port 65536", { ...base, ports: [{ name: "a", port: 65536 }] }, "spec.ports[0].port"],
  ["targetPort 70000", { ...base, ports: [{ name: "a", port: 80, targetPort: 70000 }] }, "spec.ports[0].targetPort"],
  ["protocol SCTP", { ...base, ports: [{ name: "a", port: 80, protocol: "SCTP" }] }, "spec.ports[0].protocol"],
  [
    "duplicate port names",
    {
      ...base,
      ports: [
        { name: "a", port: 80 },
        { name: "a", port: 81 },
      ],
    },
    "spec.ports[1].name",
    "spec.ports",
  ],
  [
    "duplicate port number for one protocol",
    {
      ...base,
      ports: [
        { name: "a", port: 80 },
        { name: "b", port: 80, protocol: "TCP" },
      ],
    },
    "spec.ports[1].port",
    "spec.ports",
  ],
  [
    "proxyProtocol on UDP",
    { ...base, ports: [{ name: "a", port: 53, protocol: "UDP", proxyProtocol: "v1" }] },
    "spec.ports[0].proxyProtocol",
  ],
  [
    "too many ports",
    { ...base, ports: Array.from({ length: 51 }, (_, index) => ({ name: `p${index}`, port: 1000 + index })) },
    "spec.ports",
  ],
  ["no regions", { ...base, regions: [] }, "spec.regions"],
  ["bad region code", { ...base, regions: ["ORD1"] }, "spec.regions[0]"],
  ["duplicate regions", { ...base, regions: ["ord", "ord"] }, "spec.regions[1]"],
  ["unknown preset", { ...base, machineSize: "shared-cpu-3x" }, "spec.machineSize"],
  ["zero replicas", { ...base, frpc: { replicas: 0 } }, "spec.frpc.replicas"],
  ["eleven replicas", { ...base, frpc: { replicas: 11 } }, "spec.frpc.replicas"],
  ["unknown edge", { ...base, ports: [{ name: "a", port: 443, edge: "https" }] }, "spec.ports[0].edge"],
  ["edge on UDP", { ...base, ports: [{ name: "a", port: 53, protocol: "UDP", edge: "tls" }] }, "spec.ports[0].edge"],
  [
    "proxyProtocol with an edge",
    { ...base, ports: [{ name: "a", port: 443, edge: "tls", proxyProtocol: "v2" }] },
    "spec.ports[0].proxyProtocol",
  ],
  [
    "forceHttps on a TLS port",
    { ...base, ports: [{ name: "a", port: 443, edge: "tls", forceHttps: true }] },
    "spec.ports[0].forceHttps",
  ],
  [
    "raw TCP on a shared IPv4",
    { ...base, ipv4: "shared", ports: [{ name: "pg", port: 5432 }] },
    "spec.ports[0]",
    "spec.ports",
  ],
  [
    "UDP on a shared IPv4",
    { ...base, ipv4: "shared", ports: [{ name: "dns", port: 53, protocol: "UDP" }] },
    "spec.ports[0]",
    "spec.ports",
  ],
  [
    "TLS on port 80 of a shared IPv4",
    { ...base, ipv4: "shared", ports: [{ name: "a", port: 80, edge: "tls" }] },
    "spec.ports[0]",
    "spec.ports",
  ],
  [
    "a shared IPv4 without the IPv6 frpc dials",
    { ...base, ipv4: "shared", ipv6: false, ports: [{ name: "a", port: 443, edge: "tls" }] },
    "spec.ipv6",
  ],
  ["unknown IPv4 kind", { ...base, ipv4: "anycast" }, "spec.ipv4"],
  [
    "a wildcard hostname",
    { ...base, ports: [{ name: "a", port: 443, edge: "tls" }], hostnames: ["*.example.com"] },
    "spec.hostnames[0]",
  ],
  [
    "a fly.dev hostname",
    { ...base, ports: [{ name: "a", port: 443, edge: "tls" }], hostnames: ["mine.fly.dev"] },
    "spec.hostnames[0]",
  ],
  [
    "duplicate hostnames",
    { ...base, ports: [{ name: "a", port: 443, edge: "tls" }], hostnames: ["a.example.com", "a.example.com"] },
    "spec.hostnames[1]",
  ],
  ["hostnames without an edge port", { ...base, hostnames: ["a.example.com"] }, "spec.hostnames"],
  ["adopt without an IPv4", { ...base, adopt: { app: "fly-tunnel-a-b-org", ipv4: "2001:db8::1" } }, "spec.adopt.ipv4"],
  ["adopt a bad App name", { ...base, adopt: { app: "Fly_Tunnel", ipv4: "203.0.113.7" } }, "spec.adopt.app"],
  [
    "adopt on a shared IPv4",
    {
      ...base,
      ports: [{ name: "a", port: 443, edge: "tls" }],
      ipv4: "shared",
      adopt: { app: "fly-tunnel-a-b-org", ipv4: "203.0.113.7" },
    },
    "spec.ipv4",
  ],
  ["bad quantity", { ...base, frpc: { resources: { requests: { cpu: "lots" } } } }, "spec.frpc.resources.requests.cpu"],
]
