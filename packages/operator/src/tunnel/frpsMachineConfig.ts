import { createHash } from "node:crypto"
import { type FlyTunnelSpec, machineGuests, type Port } from "@fly-tunnel-operator/api"
import type { MachineConfig, MachineService } from "@fly-tunnel-operator/fly"
import { frpsConfig, renderFrpsToml } from "@fly-tunnel-operator/frp"
import { type FrpsSlot, portsOfRole } from "./frpsSlot.ts"
import { MachineMetadata, type TunnelIdentity } from "./tunnelNames.ts"

const FRPS_CONFIG_PATH = "/etc/frp/frps.toml"
/** The Machine's address Fly delivers UDP to (and takes replies from), by its name in the Machine's /etc/hosts. */
const FLY_GLOBAL_SERVICES = "fly-global-services"

/** One Machine of the tunnel (see frpsSlot.ts), with its own control port (see chooseControlPorts). */
export interface FrpsMachinePlan extends FrpsSlot {
  readonly controlPort: number
}

/** Fly's port handlers for what the edge does before the tunnel (none: raw TCP, the port's config is unchanged). */
const edgeHandlers = { none: [], tls: ["tls"], http: ["http"], "tls+http": ["tls", "http"] } as const

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
 * The whole config of one frps Machine. The frp token is not in it: frps.toml refers to `FRP_TOKEN`, an app secret.
 * The hash in metadata is how a converged Machine is recognised without an update (updates restart frps).
 */
export const frpsMachineConfig = (
  tunnel: TunnelIdentity,
  spec: FlyTunnelSpec,
  plan: FrpsMachinePlan,
  image: string,
  tokenDigest: string,
): MachineConfig => {
  const toml = renderFrpsToml(
    frpsConfig({
      bindPort: plan.controlPort,
      ports: portsOfRole(spec, plan.role),
      ...(plan.role === "udp" ? { proxyBindAddr: FLY_GLOBAL_SERVICES } : {}),
    }),
  )
  const config = {
    image,
    guest: { ...machineGuests[spec.machineSize] },
    init: { cmd: ["-c", FRPS_CONFIG_PATH] },
    files: [{ guest_path: FRPS_CONFIG_PATH, raw_value: Buffer.from(toml).toString("base64") }],
    restart: { policy: "always" as const },
    services: services(spec, plan),
    auto_destroy: false,
  }
  // The token is an app secret frps reads at start, so a new token must restart it: its digest is part of the hash.
  const hash = createHash("sha256").update(JSON.stringify(config)).update(tokenDigest).digest("hex").slice(0, 16)
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
