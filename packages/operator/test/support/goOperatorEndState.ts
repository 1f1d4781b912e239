// What the Go fly-tunnel-operator (zhming0/fly-tunnel-operator, the release this operator replaces) leaves behind for a
// Service of its class, as data: its Fly App (named fly-tunnel-<ns>-<svc>-<org>, created without a network, so on the
// org's default one), its one Machine running frps with `bindPort = 7000` and no auth, given as an env var written to
// a file by `sh -c`, its Machine services (control port 7000 and every Service port, all TCP, no checks), the state
// annotations it writes on the Service, and its frpc Deployment and ConfigMap in its own namespace. Tests build this
// end state in the emulator and a cluster, then let this operator adopt it.
import { GoOperatorAnnotations } from "@fly-tunnel-operator/api"
import type { CreateMachineRequest } from "@fly-tunnel-operator/fly"
import type { V1ConfigMap, V1Deployment } from "@kubernetes/client-node"

/** The Go operator's frps image (its chart's `frpsImage`, pinned by digest). */
export const GO_FRPS_IMAGE =
  "snowdreamtech/frps:0.61.1@sha256:f18a0fd489b14d1fdfc68069239722f2ce3ab76b644aeb75219bf1df1b4bcea9"
/** Its frpc image (pinned by digest in its chart; the tag is enough here: nothing pulls it). */
export const GO_FRPC_IMAGE = "snowdreamtech/frpc:0.61.1"

export interface GoTunnel {
  readonly namespace: string
  readonly service: string
  readonly org: string
  readonly ports: ReadonlyArray<{ readonly name?: string; readonly port: number }>
}

/** Its `sanitize`: lower case, anything else than [a-z0-9-] to `-`, dashes collapsed and trimmed. */
const sanitize = (text: string) =>
  text
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, "-")
    .replace(/-+/g, "-")
    .replace(/^-|-$/g, "")

export const goAppName = (tunnel: GoTunnel) =>
  sanitize(`fly-tunnel-${tunnel.namespace}-${tunnel.service}-${tunnel.org}`)
export const goMachineName = (tunnel: GoTunnel) => sanitize(`frp-${tunnel.namespace}-${tunnel.service}`)
export const goFrpcName = (tunnel: GoTunnel) => sanitize(`frpc-${tunnel.namespace}-${tunnel.service}`)

/** The Machine create body of its `buildMachineInput`. */
export const goMachineRequest = (tunnel: GoTunnel): CreateMachineRequest => ({
  name: goMachineName(tunnel),
  region: "ord",
  config: {
    image: GO_FRPS_IMAGE,
    env: { FRP_SERVER_CONFIG: "bindPort = 7000\n" },
    services: [7000, ...tunnel.ports.map((port) => port.port)].map((port) => ({
      protocol: "tcp" as const,
      internal_port: port,
      ports: [{ port }],
    })),
    guest: { cpu_kind: "shared", cpus: 1, memory_mb: 256 },
    init: {
      cmd: [
        "-c",
        'mkdir -p /etc/frp && echo "$FRP_SERVER_CONFIG" > /etc/frp/frps.toml && exec frps -c /etc/frp/frps.toml',
      ],
      entrypoint: ["sh"],
    },
  },
})

/** Its frpc.toml: no token, no TLS settings; proxies named `<svc>-<port name or number>`. */
export const goFrpcToml = (tunnel: GoTunnel, ip: string) =>
  [
    `serverAddr = "${ip}"`,
    "serverPort = 7000",
    ...tunnel.ports.flatMap((port) => [
      "",
      "[[proxies]]",
      `name = "${tunnel.service}-${port.name ?? port.port}"`,
      'type = "tcp"',
      `localIP = "${tunnel.service}.${tunnel.namespace}.svc.cluster.local"`,
      `localPort = ${port.port}`,
      `remotePort = ${port.port}`,
    ]),
  ].join("\n")

/** Its frpc ConfigMap and Deployment, in the Go operator's namespace. */
export const goFrpcObjects = (
  tunnel: GoTunnel,
  ip: string,
  operatorNamespace: string,
): { readonly configMap: V1ConfigMap; readonly deployment: V1Deployment } => {
  const name = goFrpcName(tunnel)
  const managed = { "app.kubernetes.io/name": "frpc", "app.kubernetes.io/managed-by": "fly-tunnel-operator" }
  const podLabels = { ...managed, "app.kubernetes.io/instance": name }
  return {
    configMap: {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: {
        name: `${name}-config`,
        namespace: operatorNamespace,
        labels: { ...managed, "fly-tunnel-operator.dev/service": sanitize(`${tunnel.namespace}-${tunnel.service}`) },
      },
      data: { "frpc.toml": goFrpcToml(tunnel, ip) },
    },
    deployment: {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name, namespace: operatorNamespace, labels: podLabels },
      spec: {
        replicas: 1,
        selector: { matchLabels: podLabels },
        template: {
          metadata: { labels: podLabels },
          spec: {
            containers: [
              {
                name: "frpc",
                image: GO_FRPC_IMAGE,
                command: ["frpc"],
                args: ["-c", "/etc/frp/frpc.toml"],
                resources: { requests: { cpu: "10m", memory: "32Mi" }, limits: { memory: "128Mi" } },
                volumeMounts: [{ name: "config", mountPath: "/etc/frp", readOnly: true }],
              },
            ],
            volumes: [{ name: "config", configMap: { name: `${name}-config` } }],
          },
        },
      },
    },
  }
}

/** The five state annotations it writes on the Service. */
export const goStateAnnotations = (
  tunnel: GoTunnel,
  state: { readonly machineId: string; readonly ip: string; readonly ipId: string },
): Record<string, string> => ({
  [GoOperatorAnnotations.flyApp]: goAppName(tunnel),
  [GoOperatorAnnotations.machineId]: state.machineId,
  [GoOperatorAnnotations.frpcDeployment]: goFrpcName(tunnel),
  [GoOperatorAnnotations.ipId]: state.ipId,
  [GoOperatorAnnotations.publicIp]: state.ip,
})
