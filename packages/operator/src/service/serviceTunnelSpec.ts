import {
  annotationOfSpecPath,
  decodeFlyTunnelSpecResult,
  type FlyTunnelSpec,
  portInputFromAnnotations,
  type ServiceDefaults,
  specInputFromAnnotations,
} from "@fly-tunnel-operator/api"
import type { V1Service } from "@kubernetes/client-node"
import { Array as Arr, Predicate, Result } from "effect"

/** A Service setting the operator cannot turn into a tunnel: the field at fault, its value, and why. */
export interface ServiceSpecProblem {
  /** The annotation or Service field at fault, e.g. `fly-tunnel-operator.dev/fly-region` or `spec.ports[1].protocol`. */
  readonly field: string
  readonly value: string
  readonly message: string
}

export const describeProblem = (problem: ServiceSpecProblem): string =>
  `${problem.field}: ${JSON.stringify(problem.value)} is not allowed: ${problem.message.replace(/^Expected/, "expected")}`

/** The input at a decoder path such as `spec.ports[0].protocol`, as text for the message. */
const valueAt = (input: unknown, path: string): string => {
  let value = input
  for (const segment of path.replace(/^spec\.?/, "").match(/[^.[\]]+/g) ?? []) {
    value = Predicate.hasProperty(value, segment) ? value[segment] : undefined
  }
  return value === undefined ? "" : typeof value === "string" ? value : JSON.stringify(value)
}

/**
 * The FlyTunnel spec a Service of our class asks for: its ports (frpc dials the ClusterIP, so each targets the Service
 * port) and its annotations, decoded by the FlyTunnel schema itself. Every problem is reported, each named by the
 * annotation or Service field it came from; with any problem the caller leaves the existing tunnel as it was.
 */
export const tunnelSpecFromService = (
  service: V1Service,
  defaults: ServiceDefaults,
  /** spec.adopt as the Service asks for it (see serviceAdoption.ts); its fields are named by their annotations. */
  adopt?: unknown,
): Result.Result<FlyTunnelSpec, ReadonlyArray<ServiceSpecProblem>> => {
  const annotations = service.metadata?.annotations ?? {}
  const { proxyProtocol, ...fromAnnotations } = specInputFromAnnotations(annotations, defaults)
  const servicePorts = service.spec?.ports ?? []
  const input = {
    target: { service: { name: service.metadata?.name ?? "" } },
    ports: servicePorts.map((port) => {
      const protocol = port.protocol ?? "TCP"
      // Per port, by the Service port's name or number, as Fly Kubernetes's
      // `service.fly.io/<exposed port name/number>-handlers` (Fly's docs: fly.io/docs/kubernetes/services).
      const edge = portInputFromAnnotations(annotations, { name: port.name, port: port.port })
      return {
        name: port.name ?? `${protocol.toLowerCase()}-${port.port}`,
        port: port.port,
        protocol,
        targetPort: port.port,
        // The Service-wide PROXY protocol applies to raw TCP ports; a port at Fly's edge has the client in headers.
        ...(protocol === "TCP" && proxyProtocol !== undefined && (edge.edge ?? "none") === "none"
          ? { proxyProtocol }
          : {}),
        ...edge,
      }
    }),
    ...fromAnnotations,
    ...(adopt === undefined ? {} : { adopt }),
  }
  return Result.mapError(decodeFlyTunnelSpecResult(input), (invalid) =>
    Arr.dedupeWith(
      invalid.issues.map((issue): ServiceSpecProblem => {
        const annotation = annotationOfSpecPath(issue.path, annotations, servicePorts)
        return {
          field: annotation ?? issue.path,
          value: annotation === undefined ? valueAt(input, issue.path) : (annotations[annotation] ?? ""),
          message: issue.message,
        }
      }),
      (a, b) => a.field === b.field && a.message === b.message,
    ),
  )
}
