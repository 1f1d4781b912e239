// What must hold after a chaos run, counted from the emulator's call log and the cluster's objects — the same checks
// for the in-process and the local-stack mode.
import type { EmulatorState } from "@fly-tunnel-operator/fly-emulator"
import type { V1Deployment, V1Secret, V1Service } from "@kubernetes/client-node"
import type { FlyTunnelObject } from "../../src/kube/resourceType.ts"
import { type ChaosStep, finalServices, hostnamesByService, machineAdditions, machineNames } from "./chaosPlan.ts"

/** What the cluster holds, as plain objects. */
export interface ClusterView {
  readonly services: ReadonlyArray<V1Service>
  readonly tunnels: ReadonlyArray<FlyTunnelObject>
  /** frpc Deployments and Secrets in the operator's namespace. */
  readonly frpcDeployments: ReadonlyArray<V1Deployment>
  readonly frpcSecrets: ReadonlyArray<V1Secret>
}

/** Apps of one Service incarnation: names are never reused within a run, and App names start with the tunnel's. */
const ofService = (service: string) => (app: string | undefined) => app?.startsWith(`fto-${service}-`) === true

/**
 * Creates applied more often than the run asked for: per Service, more than one App or one IPv4, more Machines
 * than Machines it ever gained (a region, or a protocol in a region), or more than one certificate per hostname. Counted over the whole run, so a duplicate later cleaned up still counts.
 */
export const duplicateCreates = (steps: ReadonlyArray<ChaosStep>, state: EmulatorState): ReadonlyArray<string> => {
  const applied = (action: string, service: string, ipType?: string) =>
    state.calls.filter(
      (call) =>
        call.action === action &&
        call.applied &&
        ofService(service)(call.app) &&
        (ipType === undefined || call.ipType === ipType),
    ).length
  const problems: Array<string> = []
  const hostnames = hostnamesByService(steps)
  for (const [service, gained] of machineAdditions(steps)) {
    const apps = applied("createApp", service)
    const ipv4s = applied("createIpAssignment", service, "v4")
    const ipv6s = applied("createIpAssignment", service, "v6")
    const machines = applied("createMachine", service)
    if (apps > 1) problems.push(`${service}: ${apps} Apps created`)
    if (ipv4s > 1) problems.push(`${service}: ${ipv4s} IPv4s allocated`)
    if (ipv6s > 1) problems.push(`${service}: ${ipv6s} IPv6s allocated`)
    if (machines > gained) problems.push(`${service}: ${machines} Machines created for ${gained} gained`)
    const certificates = applied("createAcmeCertificate", service)
    const wanted = hostnames.get(service)?.length ?? 0
    if (certificates > wanted) problems.push(`${service}: ${certificates} certificates created for ${wanted} hostnames`)
  }
  return problems
}

/** Every live Service published with exactly one App, one Machine per region and the one IPv4 it shows. */
export const unconverged = (
  steps: ReadonlyArray<ChaosStep>,
  state: EmulatorState,
  cluster: ClusterView,
): ReadonlyArray<string> => {
  const problems: Array<string> = []
  for (const [name, wanted] of finalServices(steps)) {
    const service = cluster.services.find((item) => item.metadata?.name === name)
    const tunnel = cluster.tunnels.find((item) => item.metadata?.name === name)
    const published = (service?.status?.loadBalancer?.ingress ?? []).map((ingress) => ingress.ip)
    const ready = tunnel?.status?.conditions?.find((condition) => condition.type === "Ready")
    if (ready?.status !== "True" || tunnel?.status?.observedGeneration !== tunnel?.metadata?.generation) {
      problems.push(`${name}: not Ready (${ready?.reason ?? "no status"})`)
      continue
    }
    const apps = state.apps.filter((app) => ofService(name)(app.name))
    if (apps.length !== 1) {
      problems.push(`${name}: ${apps.length} Apps`)
      continue
    }
    const app = apps[0]?.name
    const machines = state.machines
      .filter((machine) => machine.app === app && machine.state !== "destroyed")
      .map((machine) => machine.name)
      .sort()
    const expected = machineNames(wanted.ports, wanted.regions)
    if (JSON.stringify(machines) !== JSON.stringify(expected))
      problems.push(`${name}: Machines [${machines}], wanted [${expected}]`)
    const ips = (type: string) => state.ips.filter((ip) => ip.app === app && ip.type === type).map((ip) => ip.ip)
    const addresses = [...ips("v4"), ...ips("v6")]
    if (addresses.length !== 2 || JSON.stringify(published) !== JSON.stringify(addresses))
      problems.push(`${name}: addresses [${addresses}] but the Service shows [${published}]`)
    const ports = (service?.spec?.ports ?? []).map((port) => `${port.port}/${port.protocol}`).sort()
    if (JSON.stringify(ports) !== JSON.stringify(wanted.ports.map((entry) => `${entry.port}/${entry.protocol}`).sort()))
      problems.push(`${name}: the Service has ports [${ports}] (the run did not apply its change)`)
    const certificates = state.certificates
      .filter((certificate) => certificate.app === app)
      .map((certificate) => certificate.hostname)
      .sort()
    const shown = (tunnel?.status?.certificates ?? []).map((certificate) => certificate.hostname).sort()
    const hostnames = [...wanted.hostnames].sort()
    if (
      JSON.stringify(certificates) !== JSON.stringify(hostnames) ||
      JSON.stringify(shown) !== JSON.stringify(hostnames)
    )
      problems.push(`${name}: certificates [${certificates}] on Fly and [${shown}] in status, wanted [${hostnames}]`)
  }
  return problems
}

/** After the last delete: nothing on Fly and no FlyTunnel or frpc object in the cluster. */
export const leaks = (state: EmulatorState, cluster: ClusterView): ReadonlyArray<string> => [
  ...state.apps.map((app) => `App ${app.name}`),
  ...state.machines.filter((machine) => machine.state !== "destroyed").map((machine) => `Machine ${machine.id}`),
  ...state.ips.map((ip) => `IP ${ip.ip}`),
  ...state.certificates.map((certificate) => `certificate ${certificate.hostname}`),
  ...cluster.tunnels.map((tunnel) => `FlyTunnel ${tunnel.metadata?.namespace}/${tunnel.metadata?.name}`),
  ...cluster.frpcDeployments.map((deployment) => `Deployment ${deployment.metadata?.name}`),
  ...cluster.frpcSecrets.map((secret) => `Secret ${secret.metadata?.name}`),
]
