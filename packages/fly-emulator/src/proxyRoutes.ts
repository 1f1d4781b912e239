import type { MachineService } from "./machineConfig.ts"
import type { ProxyRoute, PublicIpType } from "./machineHost.ts"
import type { Store } from "./store.ts"

/**
 * What a shared IPv4 carries: Fly routes it by hostname, so only HTTP on port 80 (by Host) and TLS on any port (by
 * SNI, the `tls` handler). Raw TCP, PROXY protocol and UDP need a dedicated address (Fly's "Public Network Services":
 * "You can use a shared IPv4 address for TCP ports other than 80 and 443 by using the TLS handler").
 */
const routableOnSharedIpv4 = (port: number, handlers: ReadonlyArray<string>): boolean =>
  handlers.includes("tls") || (port === 80 && handlers.length === 1 && handlers[0] === "http")

/**
 * The routing table the Fly proxy should have: for each public address of an app, each port of
 * each service, the started machines that publish it. Port ranges are not routed.
 */
export const proxyRoutes = (store: Store): Array<ProxyRoute> => {
  const routes = new Map<string, ProxyRoute & { targets: Array<ProxyRoute["targets"][number]> }>()
  for (const ip of store.ips) {
    if (ip.type === "private_v6") continue
    const ipType: PublicIpType = ip.type
    const certificates = store.certificatesOf(ip.app)
    const flyDev = `${ip.app}.fly.dev`
    const hostnames = [flyDev, ...certificates.map((certificate) => certificate.hostname)]
    const certifiedNames = [
      flyDev,
      ...certificates
        .filter((certificate) => certificate.status === "active")
        .map((certificate) => certificate.hostname),
    ]
    for (const machine of store.machinesOf(ip.app)) {
      if (machine.state !== "started" || machine.skipServiceRegistration) continue
      const services = (machine.config.services ?? []) as ReadonlyArray<MachineService>
      // Top-level checks are informational unless their kind is "readiness" (fly-go `MachineCheckKind`).
      const machineChecks = Object.values(
        (machine.config.checks ?? {}) as Record<string, Record<string, unknown>>,
      ).filter((check) => check.kind === "readiness")
      for (const service of services) {
        // UDP reaches machines only through a dedicated IPv4 (Fly's UDP and TCP docs).
        if (service.protocol === "udp" && ipType !== "v4") continue
        for (const port of service.ports ?? []) {
          if (port.port === undefined) continue
          const handlers = port.handlers ?? []
          if (ipType === "shared_v4" && (service.protocol !== "tcp" || !routableOnSharedIpv4(port.port, handlers)))
            continue
          // Per App: on a shared IPv4 several Apps have a route on one listener.
          const key = `${ip.ip}|${service.protocol}|${port.port}|${ip.app}`
          const route = routes.get(key) ?? {
            app: ip.app,
            ip: ip.ip,
            ipType,
            protocol: service.protocol,
            port: port.port,
            handlers,
            ...(handlers.includes("proxy_proto")
              ? { proxyProtoVersion: port.proxy_proto_options?.version === "v2" ? ("v2" as const) : ("v1" as const) }
              : {}),
            ...(port.force_https === true ? { forceHttps: true } : {}),
            hostnames,
            certifiedNames,
            targets: [],
          }
          route.targets.push({
            machineId: machine.id,
            internalPort: service.internal_port,
            checks: [...(service.checks ?? []), ...machineChecks],
          })
          routes.set(key, route)
        }
      }
    }
  }
  return [...routes.values()]
}
