// Which addresses an address target may publish, as pure functions. The messages name the rule (and the chart value
// behind it) so that `kubectl describe` says what to change; admission (the chart's ValidatingAdmissionPolicy) uses
// the same words for the rules it can check.
import { isIP } from "node:net"
import { firstRangeHolding, type IpRange, parseIpRange, parseIpRanges } from "./ipRange.ts"
import type { AddressTargetPolicy } from "./tunnelPolicy.ts"

/** What the cluster itself uses, discovered from the API server (never assumed). */
export interface ClusterRangesSnapshot {
  /** ServiceCIDR objects (the ClusterIP ranges). */
  readonly serviceRanges: ReadonlyArray<IpRange>
  /** Nodes' `spec.podCIDRs`. */
  readonly podRanges: ReadonlyArray<IpRange>
  /** The API server's own addresses (the `kubernetes` EndpointSlice). */
  readonly apiServerAddresses: ReadonlyArray<string>
}

export const EMPTY_CLUSTER_RANGES: ClusterRangesSnapshot = { serviceRanges: [], podRanges: [], apiServerAddresses: [] }

/** Refused whatever the chart values say: never a LAN host's address. */
const ALWAYS_REFUSED: ReadonlyArray<readonly [string, string]> = [
  ["0.0.0.0/8", "unspecified"],
  ["::/128", "unspecified"],
  ["127.0.0.0/8", "loopback"],
  ["::1/128", "loopback"],
  ["169.254.0.0/16", "link-local (cloud metadata services answer on 169.254.169.254)"],
  ["fe80::/10", "link-local"],
  ["224.0.0.0/4", "multicast"],
  ["ff00::/8", "multicast"],
  ["255.255.255.255/32", "broadcast"],
]
/** A range of the table above; a typo there fails the module at load rather than dropping a refusal. */
const fixedRange = (text: string): IpRange => {
  const range = parseIpRange(text)
  if (range === undefined) throw new Error(`ALWAYS_REFUSED holds ${text}, which is not an IP range`)
  return range
}
const alwaysRefused = ALWAYS_REFUSED.map(([text, what]) => ({ range: fixedRange(text), what }))

const listed = (items: ReadonlyArray<{ readonly text: string } | string>) =>
  items.length === 0 ? "none" : items.map((item) => (typeof item === "string" ? item : item.text)).join(", ")

/** Why `address` may not be published, or undefined when it may. */
export const addressRefusal = (
  address: string,
  policy: AddressTargetPolicy,
  cluster: ClusterRangesSnapshot,
): string | undefined => {
  if (isIP(address) === 0) return `${address} is not an IP address`
  const fixed = alwaysRefused.find(({ range }) => firstRangeHolding([range], address) !== undefined)
  if (fixed !== undefined) return `${address} is ${fixed.what}, which is never published`
  const service = firstRangeHolding(cluster.serviceRanges, address)
  if (service !== undefined)
    return `${address} is in the cluster's Service range ${service.text}, which is never published (target a Service with spec.target.service instead)`
  const pod = firstRangeHolding(cluster.podRanges, address)
  if (pod !== undefined) return `${address} is in the cluster's Pod range ${pod.text}, which is never published`
  if (cluster.apiServerAddresses.some((apiServer) => sameAddress(apiServer, address)))
    return `${address} is the Kubernetes API server's address, which is never published`
  const refused = firstRangeHolding(policy.refusedRanges, address)
  if (refused !== undefined)
    return `${address} is in ${refused.text}, which this cluster refuses (chart value addressTargets.refusedCIDRs)`
  if (firstRangeHolding(policy.allowedRanges, address) === undefined)
    return `${address} is outside the ranges address targets may use (chart value addressTargets.allowedCIDRs: ${listed(policy.allowedRanges)})`
  return undefined
}

const sameAddress = (a: string, b: string): boolean => {
  const range = parseIpRanges([`${a}/${isIP(a) === 4 ? 32 : 128}`])
  return firstRangeHolding(range, b) !== undefined
}

/** Names that reach into the cluster or the node itself. */
const clusterName = (host: string): boolean =>
  host === "localhost" ||
  host.endsWith(".localhost") ||
  host.endsWith(".svc") ||
  host === "cluster.local" ||
  host.endsWith(".cluster.local")

/** Whether `host` is `suffix` or a name below it. */
export const hostMatchesSuffix = (host: string, suffix: string): boolean => {
  const bare = suffix.replace(/^\.+/, "")
  return host === bare || host.endsWith(`.${bare}`)
}

/** Why the host name `host` may not be a target (before it is resolved), or undefined when it may. */
export const hostNameRefusal = (host: string, policy: AddressTargetPolicy): string | undefined => {
  if (clusterName(host))
    return `${host} is a cluster or node-local name (localhost, *.svc, *.cluster.local), which is never published (target a Service with spec.target.service instead)`
  if (!policy.allowedHostnames.some((suffix) => hostMatchesSuffix(host, suffix)))
    return `${host} matches none of the host names address targets may use (chart value addressTargets.allowedHostnames: ${listed(policy.allowedHostnames)})`
  return undefined
}
