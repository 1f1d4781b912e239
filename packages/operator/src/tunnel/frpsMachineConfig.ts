import { createHash } from "node:crypto"
import { type Edge, type FlyTunnelSpec, machineGuests, type Port } from "@fly-tunnel-operator/api"
import type { Machine, MachineConfig, MachineService } from "@fly-tunnel-operator/fly"
import { frpsConfig, renderFrpsToml } from "@fly-tunnel-operator/frp"
import { FrpsTlsSecrets } from "./flySecret.ts"
import { type FrpsSlot, portsOfRole } from "./frpsSlot.ts"
import { MachineMetadata, type TunnelIdentity } from "./tunnelNames.ts"

const FRPS_CONFIG_PATH = "/etc/frp/frps.toml"
/** The Machine's address Fly delivers UDP to (and takes replies from), by its name in the Machine's /etc/hosts. */
const FLY_GLOBAL_SERVICES = "fly-global-services"
/** frps's certificate, key and the CA bundle frpc's certificate must chain to, as files on the Machine. */
const FRPS_TLS = {
  certFile: "/etc/frp/tls/frps.crt",
  keyFile: "/etc/frp/tls/frps.key",
  trustedCaFile: "/etc/frp/tls/ca.crt",
} as const

/** What frps reads at start besides its config: digests of the token and certificates (app secrets), the CA bundle. */
export interface FrpsSecrets {
  readonly tokenDigest: string
  readonly tlsDigest: string
  /** The CA bundle, public: it goes into the config as a file of its own. */
  readonly trustPem: string
}

/** One Machine of the tunnel (see frpsSlot.ts), with its own control port (see chooseControlPorts). */
export interface FrpsMachinePlan extends FrpsSlot {
  readonly controlPort: number
}

/** Fly's port handlers for what the edge does before the tunnel (none: raw TCP, the port's config is unchanged). */
const edgeHandlers: Readonly<Record<Edge, ReadonlyArray<string>>> = {
  none: [],
  tls: ["tls"],
  http: ["http"],
  "tls+http": ["tls", "http"],
}

const tcpPort = (port: Port) =>
  port.edge !== "none"
    ? {
        port: port.port,
        handlers: [...edgeHandlers[port.edge]],
        ...(port.forceHttps === true ? { force_https: true } : {}),
      }
    : port.proxyProtocol === "none"
      ? { port: port.port }
      : { port: port.port, handlers: ["proxy_proto"], proxy_proto_options: { version: port.proxyProtocol } }

/**
 * A TCP check on a tunnel port passes only once frpc has registered its proxy, so Fly routes to connected frps (and
 * the tunnel is Ready only then). frpc is deployed while the Machine is created and logs in within about a second of
 * frps starting: the first probe comes half a second after the start, then one every second, so bytes flow at most
 * a second after frpc registered. Each probe is one connection through frpc to the target. (Was 5 s grace and 10 s
 * interval: the first byte then came 5 to 15 s after the Machine started.)
 */
const portCheck = (port: number) => ({ type: "tcp", port, interval: "1s", timeout: "1s", grace_period: "500ms" })

/** The first service is the control port's (see controlPortOf). */
const services = (spec: FlyTunnelSpec, plan: FrpsMachinePlan): ReadonlyArray<MachineService> => [
  {
    protocol: "tcp",
    internal_port: plan.controlPort,
    ports: [{ port: plan.controlPort }],
    autostart: true,
    autostop: "off",
    // UDP has no Fly check: on the UDP Machine, the control port's says at least that frps runs and is reachable.
    ...(plan.role === "udp" ? { checks: [portCheck(plan.controlPort)] } : {}),
  },
  ...portsOfRole(spec, plan.role).map(
    (port): MachineService =>
      port.protocol === "UDP"
        ? // Fly rewrites only addresses for UDP: the internal port is the public port, and no handlers.
          { protocol: "udp", internal_port: port.port, ports: [{ port: port.port }], autostart: true, autostop: "off" }
        : {
            protocol: "tcp",
            internal_port: port.port,
            ports: [tcpPort(port)],
            autostart: true,
            autostop: "off",
            checks: [portCheck(port.port)],
          },
  ),
]

/**
 * The whole config of one frps Machine. Neither the frp token nor frps's private key is in it: frps.toml refers to
 * `FRP_TOKEN`, an app secret, and the certificate and key are files Fly writes from app secrets (`secret_name`).
 * The hash in metadata is how a converged Machine is recognised without an update (updates restart frps).
 */
export const frpsMachineConfig = (
  tunnel: TunnelIdentity,
  spec: FlyTunnelSpec,
  plan: FrpsMachinePlan,
  image: string,
  secrets: FrpsSecrets,
): MachineConfig => {
  const toml = renderFrpsToml(
    frpsConfig({
      bindPort: plan.controlPort,
      ports: portsOfRole(spec, plan.role),
      ...(plan.role === "udp" ? { proxyBindAddr: FLY_GLOBAL_SERVICES } : {}),
      tls: FRPS_TLS,
    }),
  )
  const config = {
    image,
    guest: { ...machineGuests[spec.machineSize] },
    init: { cmd: ["-c", FRPS_CONFIG_PATH] },
    files: [
      { guest_path: FRPS_CONFIG_PATH, raw_value: Buffer.from(toml).toString("base64") },
      { guest_path: FRPS_TLS.certFile, secret_name: FrpsTlsSecrets.cert },
      { guest_path: FRPS_TLS.keyFile, secret_name: FrpsTlsSecrets.key },
      { guest_path: FRPS_TLS.trustedCaFile, raw_value: Buffer.from(secrets.trustPem).toString("base64") },
    ],
    restart: { policy: "always" as const },
    services: services(spec, plan),
    auto_destroy: false,
  }
  // The token and certificates are app secrets frps reads at start, so new ones must restart it: their digests are
  // part of the hash (a renewal is thus the one restart of a converged tunnel).
  const hash = createHash("sha256")
    .update(JSON.stringify(config))
    .update(secrets.tokenDigest)
    .update(secrets.tlsDigest)
    .digest("hex")
    .slice(0, 16)
  return {
    ...config,
    metadata: {
      [MachineMetadata.tunnelUid]: tunnel.uid,
      [MachineMetadata.region]: plan.region,
      // Only on the UDP Machine: the TCP one's metadata (and so its hash) stays what it was before UDP had its own.
      ...(plan.role === "udp" ? { [MachineMetadata.role]: plan.role } : {}),
      [MachineMetadata.configHash]: hash,
    },
  }
}

/** The control port a Machine of ours serves: its first service's (see services); unknown without a config. */
export const controlPortOf = (machine: Machine): number | undefined =>
  (machine.config ?? machine.incomplete_config)?.services?.[0]?.internal_port

export const configHashOf = (config: MachineConfig | undefined): string | undefined =>
  config?.metadata?.[MachineMetadata.configHash]

/**
 * Whether a live config holds everything the desired one sets, with the same values. Fields Fly adds (defaults, its
 * own bookkeeping) are allowed; a field we set that was changed or removed out of band is drift to put back.
 */
export const holdsConfig = (live: unknown, desired: unknown): boolean => {
  if (Array.isArray(desired)) {
    return (
      Array.isArray(live) &&
      live.length === desired.length &&
      desired.every((item, index) => holdsConfig(live[index], item))
    )
  }
  if (desired !== null && typeof desired === "object") {
    return (
      live !== null &&
      typeof live === "object" &&
      !Array.isArray(live) &&
      Object.entries(desired).every(([key, value]) => holdsConfig(Reflect.get(live, key), value))
    )
  }
  return live === desired
}
