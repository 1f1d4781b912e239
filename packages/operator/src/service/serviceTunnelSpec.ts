import {
  Annotations,
  MACHINE_SIZES,
  MAX_FRPC_REPLICAS,
  MAX_REGIONS,
  type MachineSize,
  REGION_PATTERN,
} from "@fly-tunnel-operator/api"
import type { ServiceObject } from "./serviceObjects.ts"

/** A Service setting the operator cannot turn into a tunnel; the message names the field, the value and the fix. */
export interface ServiceSpecProblem {
  /** The annotation or Service field at fault, e.g. `fly-tunnel-operator.dev/fly-region` or `spec.ports[1].protocol`. */
  readonly field: string
  readonly value: string
  readonly allowed: string
}

export const describeProblem = (problem: ServiceSpecProblem): string =>
  `${problem.field}: ${JSON.stringify(problem.value)} is not allowed; use ${problem.allowed}`

/** The FlyTunnel spec a Service asks for, in its wire form (what is applied to the API server). */
export interface TunnelSpecFromService {
  readonly target: { readonly service: { readonly name: string } }
  readonly ports: ReadonlyArray<{
    readonly name: string
    readonly port: number
    readonly protocol: "TCP" | "UDP"
    readonly targetPort: number
    readonly proxyProtocol: "none" | "v1" | "v2"
  }>
  readonly regions: ReadonlyArray<string>
  readonly machineSize: MachineSize
  readonly frpc: {
    readonly replicas: number
    readonly resources?: {
      readonly requests?: { readonly cpu?: string; readonly memory?: string }
      readonly limits?: { readonly cpu?: string; readonly memory?: string }
    }
  }
}

export interface ServiceDefaults {
  readonly region: string
  readonly machineSize: MachineSize
}

const QUANTITY = /^\+?((\d+(\.\d*)?)|(\.\d+))(([KMGTPE]i)|[numkMGTPE]|([eE][+-]?((\d+(\.\d*)?)|(\.\d+))))?$/
const REGION = new RegExp(REGION_PATTERN, "u")

/**
 * Reads a Service of our class into a FlyTunnel spec. Every problem is collected, so one Event names them all; with
 * any problem the caller leaves the existing tunnel as it was.
 */
export const tunnelSpecFromService = (
  service: ServiceObject,
  defaults: ServiceDefaults,
): { readonly spec: TunnelSpecFromService } | { readonly problems: ReadonlyArray<ServiceSpecProblem> } => {
  const annotations = service.metadata?.annotations ?? {}
  const problems: Array<ServiceSpecProblem> = []

  const regionsText = annotations[Annotations.flyRegions] ?? annotations[Annotations.flyRegion]
  const regionsField =
    annotations[Annotations.flyRegions] === undefined ? Annotations.flyRegion : Annotations.flyRegions
  const regions = regionsText === undefined ? [defaults.region] : regionsText.split(",").map((region) => region.trim())
  if (
    regions.length === 0 ||
    regions.length > MAX_REGIONS ||
    regions.some((region) => !REGION.test(region)) ||
    new Set(regions).size !== regions.length
  ) {
    problems.push({
      field: regionsField,
      value: regionsText ?? "",
      allowed: `1 to ${MAX_REGIONS} distinct Fly region codes (three lowercase letters), comma-separated, e.g. "ord" or "ord,ams"`,
    })
  }

  const sizeText = annotations[Annotations.flyMachineSize]
  const machineSize = sizeText ?? defaults.machineSize
  if (!MACHINE_SIZES.includes(machineSize as MachineSize)) {
    problems.push({
      field: Annotations.flyMachineSize,
      value: machineSize,
      allowed: `one of ${MACHINE_SIZES.join(", ")}`,
    })
  }

  const proxyProtocol = annotations[Annotations.proxyProtocol] ?? "none"
  if (proxyProtocol !== "none" && proxyProtocol !== "v1" && proxyProtocol !== "v2") {
    problems.push({ field: Annotations.proxyProtocol, value: proxyProtocol, allowed: "none, v1 or v2" })
  }

  const replicasText = annotations[Annotations.frpcReplicas] ?? "1"
  const replicas = Number(replicasText)
  if (!/^\d+$/.test(replicasText) || replicas < 1 || replicas > MAX_FRPC_REPLICAS) {
    problems.push({
      field: Annotations.frpcReplicas,
      value: replicasText,
      allowed: `a whole number from 1 to ${MAX_FRPC_REPLICAS}`,
    })
  }

  const quantity = (annotation: string): string | undefined => {
    const value = annotations[annotation]
    if (value !== undefined && !QUANTITY.test(value)) {
      problems.push({ field: annotation, value, allowed: "a Kubernetes quantity such as 10m, 0.5, 32Mi or 1Gi" })
    }
    return value
  }
  const requests = { cpu: quantity(Annotations.frpcCpuRequest), memory: quantity(Annotations.frpcMemoryRequest) }
  const limits = { cpu: quantity(Annotations.frpcCpuLimit), memory: quantity(Annotations.frpcMemoryLimit) }

  const servicePorts = service.spec?.ports ?? []
  if (servicePorts.length === 0) problems.push({ field: "spec.ports", value: "", allowed: "at least one port" })
  const ports = servicePorts.map((port, index) => {
    const protocol = port.protocol ?? "TCP"
    if (protocol !== "TCP" && protocol !== "UDP") {
      problems.push({
        field: `spec.ports[${index}].protocol`,
        value: protocol,
        allowed: "TCP or UDP (Fly cannot carry SCTP)",
      })
    }
    return {
      name: port.name ?? `${protocol.toLowerCase()}-${port.port}`,
      port: port.port,
      protocol: protocol === "UDP" ? ("UDP" as const) : ("TCP" as const),
      // frpc dials the ClusterIP, so it targets the Service port, not the Pods' targetPort.
      targetPort: port.port,
      proxyProtocol: protocol === "TCP" ? (proxyProtocol as "none" | "v1" | "v2") : ("none" as const),
    }
  })

  if (problems.length > 0) return { problems }
  const compact = (list: { cpu: string | undefined; memory: string | undefined }) =>
    Object.fromEntries(Object.entries(list).filter(([, value]) => value !== undefined)) as {
      cpu?: string
      memory?: string
    }
  const resources = {
    ...(Object.keys(compact(requests)).length > 0 ? { requests: compact(requests) } : {}),
    ...(Object.keys(compact(limits)).length > 0 ? { limits: compact(limits) } : {}),
  }
  return {
    spec: {
      target: { service: { name: service.metadata?.name ?? "" } },
      ports,
      regions,
      machineSize: machineSize as MachineSize,
      frpc: { replicas, ...(Object.keys(resources).length > 0 ? { resources } : {}) },
    },
  }
}
