import { type FlyTunnelStatus, Reasons } from "@fly-tunnel-operator/api"
import type { ServiceCondition, ServiceObject } from "./serviceObjects.ts"

/** The condition on our Services; `kubectl describe svc` shows it, and a `<pending>` Service always has one. */
export const SERVICE_CONDITION = "fly-tunnel-operator.dev/TunnelReady"

/** What a user can do about each tunnel reason, in the words of a Service owner. */
const advice: Record<string, string> = {
  [Reasons.FlyUnauthorized]: "Fly rejected the operator's API token; check the token Secret of the Helm release",
  [Reasons.FlyRateLimited]: "Fly is rate limiting the operator; it retries with backoff",
  [Reasons.FlyCapacity]:
    "Fly has no capacity in the region; set another region with fly-tunnel-operator.dev/fly-region",
  [Reasons.AppNameTaken]: "the tunnel's Fly App name belongs to an App that is not this tunnel's; recreate the Service",
  [Reasons.InvalidSpec]: "the tunnel spec is invalid",
  [Reasons.TargetNotFound]: "the Service has no ClusterIP to forward to",
  [Reasons.DeleteFailed]:
    "removing the Fly resources failed; it is retried (set fly-tunnel-operator.dev/force-delete=true to give up)",
}

const waitingFor = (status: FlyTunnelStatus | undefined): { readonly reason: string; readonly message: string } => {
  const ready = status?.conditions?.find((condition) => condition.type === "Ready")
  if (ready === undefined)
    return { reason: Reasons.Provisioning, message: "waiting for the FlyTunnel to be provisioned" }
  const hint = advice[ready.reason]
  return {
    reason: ready.reason,
    message: `waiting for the tunnel: ${hint === undefined ? "" : `${hint}: `}${ready.message}`,
  }
}

export const tunnelAddress = (status: FlyTunnelStatus | undefined): string | undefined =>
  status?.addresses?.find((address) => address.type === "v4")?.ip

export const tunnelReady = (status: FlyTunnelStatus | undefined): boolean =>
  status?.conditions?.some((condition) => condition.type === "Ready" && condition.status === "True") ?? false

const withCondition = (
  service: ServiceObject,
  condition: Omit<ServiceCondition, "lastTransitionTime">,
  now: string,
): ReadonlyArray<ServiceCondition> => {
  const existing = service.status?.conditions ?? []
  const before = existing.find((item) => item.type === condition.type)
  return [
    ...existing.filter((item) => item.type !== condition.type),
    { ...condition, lastTransitionTime: before?.status === condition.status ? before.lastTransitionTime : now },
  ]
}

/**
 * The Service status for its tunnel: the address as `ingress` (`ipMode: Proxy`, KEP-1860, so kube-proxy never
 * short-cuts it) once the tunnel is Ready, kept while the address stands; a condition saying what it waits for.
 */
export const serviceStatusFor = (
  service: ServiceObject,
  tunnel: FlyTunnelStatus | undefined,
  now: string,
): NonNullable<ServiceObject["status"]> => {
  const address = tunnelAddress(tunnel)
  const ready = tunnelReady(tunnel)
  const current = service.status?.loadBalancer?.ingress?.[0]?.ip
  const publish = address !== undefined && (ready || current === address)
  const waiting = waitingFor(tunnel)
  return {
    ...service.status,
    loadBalancer: publish ? { ingress: [{ ip: address, ipMode: "Proxy" }] } : {},
    conditions: withCondition(
      service,
      ready
        ? { type: SERVICE_CONDITION, status: "True", reason: Reasons.Ready, message: `public address ${address}` }
        : { type: SERVICE_CONDITION, status: "False", reason: waiting.reason, message: waiting.message },
      now,
    ),
  }
}

/** The status of a Service we no longer manage: no ingress of ours, no condition of ours. */
export const releasedServiceStatus = (service: ServiceObject): NonNullable<ServiceObject["status"]> => ({
  ...service.status,
  loadBalancer: {},
  conditions: (service.status?.conditions ?? []).filter((condition) => condition.type !== SERVICE_CONDITION),
})

export const invalidServiceStatus = (
  service: ServiceObject,
  message: string,
  now: string,
): NonNullable<ServiceObject["status"]> => ({
  ...service.status,
  conditions: withCondition(
    service,
    { type: SERVICE_CONDITION, status: "False", reason: Reasons.InvalidSpec, message },
    now,
  ),
})
