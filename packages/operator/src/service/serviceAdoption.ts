// Which App a Service's tunnel adopts (spec.adopt). The Go operator left its state on each Service as annotations:
// `fly-app` names its App and `public-ip` that App's dedicated IPv4. With the opt-in — the Service's `adopt` annotation,
// else the chart's adoption.enabled — a new tunnel takes that App over and keeps the address. The same two annotations,
// written by hand, re-attach a re-created Service to an App of this cluster whose FlyTunnel is gone. Adoption is
// decided once, when the tunnel is created: later the tunnel's own spec.adopt is kept as it is (it cannot change).
import { Annotations, GoOperatorAnnotations } from "@fly-tunnel-operator/api"
import type { V1Service } from "@kubernetes/client-node"
import { Result } from "effect"
import type { FlyTunnelObject } from "../kube/resourceType.ts"
import type { ServiceSpecProblem } from "./serviceTunnelSpec.ts"

/** The App the Go operator's state annotations name on a Service, with its IPv4 (both must be there). */
export interface NamedApp {
  readonly app: string
  readonly ipv4: string
}

export const namedAppOf = (service: V1Service): NamedApp | undefined => {
  const annotations = service.metadata?.annotations ?? {}
  const app = annotations[GoOperatorAnnotations.flyApp]
  const ipv4 = annotations[GoOperatorAnnotations.publicIp]
  return app === undefined || ipv4 === undefined || app === "" || ipv4 === "" ? undefined : { app, ipv4 }
}

/** Whether the Service opts in: its `adopt` annotation ("true" or "false"), else the install's setting. */
export const adoptionWanted = (service: V1Service, enabled: boolean): Result.Result<boolean, ServiceSpecProblem> => {
  const value = service.metadata?.annotations?.[Annotations.adopt]
  if (value === undefined) return Result.succeed(enabled)
  if (value === "true" || value === "false") return Result.succeed(value === "true")
  return Result.fail({ field: Annotations.adopt, value, message: 'expected "true" or "false"' })
}

/**
 * The spec.adopt input of the Service's tunnel: the existing tunnel's, unchanged; for a new tunnel, the named App when
 * the Service opts in; otherwise none.
 */
export const adoptInputFor = (service: V1Service, existing: FlyTunnelObject | undefined, wanted: boolean): unknown => {
  if (existing !== undefined) {
    const spec = existing.spec
    return typeof spec === "object" && spec !== null && "adopt" in spec ? spec.adopt : undefined
  }
  return wanted ? namedAppOf(service) : undefined
}

/**
 * The Go operator's App a Service names but its tunnel did not take over: still billed, and the condition says how to
 * adopt it or remove it.
 */
export const notAdopted = (service: V1Service, tunnel: FlyTunnelObject | undefined): NamedApp | undefined => {
  const named = namedAppOf(service)
  const adopted = adoptInputFor(service, tunnel, false)
  const adoptedApp = typeof adopted === "object" && adopted !== null && "app" in adopted ? adopted.app : undefined
  return named !== undefined && adoptedApp !== named.app ? named : undefined
}
