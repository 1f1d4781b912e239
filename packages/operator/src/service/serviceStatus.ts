import {
  Annotations,
  type FlyTunnelStatus,
  GoOperatorAnnotations,
  type Reason,
  Reasons,
} from "@fly-tunnel-operator/api"
import type { V1Condition, V1LoadBalancerIngress, V1Service } from "@kubernetes/client-node"
import type { NamedApp } from "./serviceAdoption.ts"
import {
  notPublishedMessage,
  publishedAnywayMessage,
  SOURCE_RANGES_CONDITION,
  type SourceRangesVerdict,
  sourceRangesCondition,
} from "./sourceRanges.ts"

/** The condition on our Services; `kubectl describe svc` shows it, and a `<pending>` Service always has one. */
export const SERVICE_CONDITION = "fly-tunnel-operator.dev/TunnelReady"

/**
 * What each tunnel reason means to a Service owner: progress, or what to do. A Record over every reason, so a reason
 * added to the api package must be given words here.
 */
const advice: Record<Reason, string> = {
  [Reasons.Provisioning]: "the tunnel is being provisioned",
  [Reasons.AppCreated]: "the Fly App exists; its Machine and address are being provisioned",
  [Reasons.AppNameTaken]: "the tunnel's Fly App name belongs to an App that is not this tunnel's; recreate the Service",
  [Reasons.AppAdopted]: "the Fly App named by the Service was taken over; its Machine and frpc are being replaced",
  [Reasons.AdoptionRefused]: `the Fly App named by ${GoOperatorAnnotations.flyApp} cannot be taken over; fix the annotations, or set ${Annotations.adopt}="false" and delete the FlyTunnel for a new App and address`,
  [Reasons.MachineCreating]: "the frps Machine is being created or updated",
  [Reasons.MachineStarted]: "the frps Machine runs; the rest of the tunnel is being provisioned",
  [Reasons.MachineUpdating]:
    "the frps Machines are moving to a new config one region at a time; the others keep serving",
  [Reasons.AddressAllocated]: "the public IPv4 is allocated; the rest of the tunnel is being provisioned",
  [Reasons.ClientDeploying]: "frpc is rolling out in the operator's namespace and connecting to Fly",
  [Reasons.ClientReady]: "frpc is connected; the rest of the tunnel is being provisioned",
  [Reasons.Ready]: "the tunnel is ready",
  [Reasons.FlyUnauthorized]: "Fly rejected the operator's API token; check the token Secret of the Helm release",
  [Reasons.FlyRateLimited]: "Fly is rate limiting the operator; it retries with backoff",
  [Reasons.FlyCapacity]: `Fly has no capacity in the region; set another region with ${Annotations.flyRegions}`,
  [Reasons.FlyError]: "a Fly API call failed; it is retried (the FlyTunnel's Events have the details)",
  [Reasons.InvalidSpec]: "the tunnel spec is invalid; check the Service's ports and annotations",
  [Reasons.TargetNotFound]: "the Service has no ClusterIP to forward to",
  [Reasons.CertificateVerificationFailed]:
    "frpc refuses the certificate it is shown: something between the cluster and Fly intercepts TLS; nothing is carried",
  [Reasons.CertificateAuthorityInvalid]:
    "the operator's CA Secret cannot sign certificates; fix or delete it (the operator's namespace, fly-tunnel-operator-ca)",
  [Reasons.SourceRangesNotEnforced]:
    "the tunnel cannot enforce loadBalancerSourceRanges; remove them or accept that they are ignored",
  [Reasons.Deleting]: "the tunnel is being deleted",
  [Reasons.DeleteFailed]: `removing the Fly resources failed; it is retried (set ${Annotations.forceDelete}=true to give up)`,
  [Reasons.CertificateActive]: "every hostname has an issued Fly certificate",
  [Reasons.CertificatePending]:
    "a hostname's certificate waits for its DNS records (kubectl describe flytunnel lists them)",
  [Reasons.CertificateFailed]:
    "Fly could not validate a hostname; kubectl describe flytunnel shows Fly's error and what to do",
  [Reasons.CertificateRateLimited]: "Let's Encrypt is rate limiting a hostname's certificate; Fly retries later",
}

const isReason = (reason: string): reason is Reason => Object.hasOwn(advice, reason)

/** Tunnel reasons that need a person (or at least explain a delay): a Warning on the Service. The rest is progress. */
const failureReasons: ReadonlySet<string> = new Set<Reason>([
  Reasons.AppNameTaken,
  Reasons.AdoptionRefused,
  Reasons.FlyUnauthorized,
  Reasons.FlyRateLimited,
  Reasons.FlyCapacity,
  Reasons.FlyError,
  Reasons.InvalidSpec,
  Reasons.TargetNotFound,
  Reasons.CertificateVerificationFailed,
  Reasons.CertificateAuthorityInvalid,
  Reasons.DeleteFailed,
])

const readyCondition = (status: FlyTunnelStatus | undefined) =>
  status?.conditions?.find((condition) => condition.type === "Ready")

const waitingFor = (status: FlyTunnelStatus | undefined): { readonly reason: string; readonly message: string } => {
  const ready = readyCondition(status)
  if (ready === undefined)
    return { reason: Reasons.Provisioning, message: `waiting for the tunnel: ${advice.Provisioning}` }
  const hint = isReason(ready.reason) ? advice[ready.reason] : undefined
  return {
    reason: ready.reason,
    message: `waiting for the tunnel: ${hint === undefined ? "" : `${hint}: `}${ready.message}`,
  }
}

/** The tunnel's failure, when its Ready condition is False for a reason that is not progress. */
export const tunnelFailure = (
  status: FlyTunnelStatus | undefined,
): { readonly reason: string; readonly message: string } | undefined => {
  const ready = readyCondition(status)
  return ready?.status === "False" && failureReasons.has(ready.reason) ? waitingFor(status) : undefined
}

/** The tunnel's addresses, the IPv4 first (tools that read one address read the first). */
const tunnelAddresses = (status: FlyTunnelStatus | undefined): ReadonlyArray<string> =>
  [...(status?.addresses ?? [])].sort((a, b) => a.type.localeCompare(b.type)).map((address) => address.ip)

const tunnelReady = (status: FlyTunnelStatus | undefined): boolean => readyCondition(status)?.status === "True"

/**
 * The part of a Service's status the Service controller owns (server-side apply): the ingress it publishes and its
 * one condition. Other writers' conditions are theirs; a field dropped from here is removed from the Service.
 */
export interface OwnedServiceStatus {
  readonly ingress?: ReadonlyArray<V1LoadBalancerIngress>
  readonly condition?: V1Condition
  /** While loadBalancerSourceRanges are asked for and not enforced (service/sourceRanges.ts). */
  readonly sourceRanges?: V1Condition
}

/** What the Service shows now of the fields we own. */
export const ownedStatusOf = (service: V1Service): OwnedServiceStatus => {
  const ingress = service.status?.loadBalancer?.ingress
  const condition = service.status?.conditions?.find((item) => item.type === SERVICE_CONDITION)
  const sourceRanges = service.status?.conditions?.find((item) => item.type === SOURCE_RANGES_CONDITION)
  return {
    ...(ingress === undefined || ingress.length === 0 ? {} : { ingress }),
    ...(condition === undefined ? {} : { condition }),
    ...(sourceRanges === undefined ? {} : { sourceRanges }),
  }
}

/** Our condition, keeping its transition time while its status stands. */
const conditionFor = (
  service: V1Service,
  condition: Omit<V1Condition, "type" | "lastTransitionTime">,
  now: string,
): V1Condition => {
  const before = ownedStatusOf(service).condition
  return {
    type: SERVICE_CONDITION,
    ...condition,
    lastTransitionTime: before?.status === condition.status ? before.lastTransitionTime : new Date(now),
  }
}

/**
 * Added to the condition while the Go operator's App a Service names was not taken over: it is still billed, and
 * adoption is available (the tunnel is re-created to adopt it, since adoption is decided when a tunnel is made).
 */
export const notAdoptedNotice = (service: V1Service, named: NamedApp): string => {
  const tunnel = `${service.metadata?.namespace}/${service.metadata?.name}`
  return `the Go operator's Fly App ${named.app} (IPv4 ${named.ipv4}) is not adopted and is still billed; adoption is available: set ${Annotations.adopt}="true" and delete the FlyTunnel ${tunnel} (it is re-created taking the App over, keeping ${named.ipv4}), or destroy the App (fly apps destroy ${named.app}) once DNS points at the new address`
}

/**
 * The Service status for its tunnel: the addresses as `ingress` (`ipMode: Proxy`, KEP-1860, so kube-proxy never
 * short-cuts them) once the tunnel is Ready, kept while they stand; a condition saying what it waits for.
 */
export const serviceStatusFor = (
  service: V1Service,
  tunnel: FlyTunnelStatus | undefined,
  now: string,
  notAdopted?: NamedApp,
): OwnedServiceStatus => {
  const addresses = tunnelAddresses(tunnel)
  const ready = tunnelReady(tunnel)
  const current = new Set((service.status?.loadBalancer?.ingress ?? []).map((ingress) => ingress.ip))
  // Not Ready (yet, or for a while): what is published stays as long as the tunnel still holds it.
  const shown = ready ? addresses : addresses.filter((ip) => current.has(ip))
  const waiting = waitingFor(tunnel)
  const notice = notAdopted === undefined ? "" : `; ${notAdoptedNotice(service, notAdopted)}`
  return {
    ...(shown.length > 0 ? { ingress: shown.map((ip) => ({ ip, ipMode: "Proxy" })) } : {}),
    condition: conditionFor(
      service,
      ready
        ? { status: "True", reason: Reasons.Ready, message: `public address ${addresses.join(", ")}${notice}` }
        : { status: "False", reason: waiting.reason, message: `${waiting.message}${notice}` },
      now,
    ),
  }
}

/** A Service whose annotations are invalid: the condition says why; a published address stays (a typo never takes it down). */
export const invalidServiceStatus = (service: V1Service, message: string, now: string): OwnedServiceStatus => {
  const { ingress } = ownedStatusOf(service)
  return {
    ...(ingress === undefined ? {} : { ingress }),
    condition: conditionFor(service, { status: "False", reason: Reasons.InvalidSpec, message }, now),
  }
}

type Unenforced = Extract<SourceRangesVerdict, { enforced: false }>

/** A new Service whose source ranges cannot be enforced: not published, and the condition says why and what to do. */
export const unpublishedServiceStatus = (service: V1Service, verdict: Unenforced, now: string): OwnedServiceStatus => ({
  condition: conditionFor(
    service,
    { status: "False", reason: Reasons.SourceRangesNotEnforced, message: notPublishedMessage(verdict) },
    now,
  ),
})

/** A published Service whose source ranges cannot be enforced: its status plus the Warning condition. */
export const withSourceRangesWarning = (
  service: V1Service,
  status: OwnedServiceStatus,
  verdict: SourceRangesVerdict,
  now: string,
): OwnedServiceStatus =>
  verdict.enforced
    ? status
    : {
        ...status,
        sourceRanges: sourceRangesCondition(publishedAnywayMessage(verdict), ownedStatusOf(service).sourceRanges, now),
      }

/** A Service we no longer manage: none of our fields. */
export const releasedServiceStatus: OwnedServiceStatus = {}
