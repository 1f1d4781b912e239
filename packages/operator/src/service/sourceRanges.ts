// A Service's `spec.loadBalancerSourceRanges` (or the older `service.beta.kubernetes.io/load-balancer-source-ranges`
// annotation) asks that only those client addresses reach it. A tunnel cannot honour that: Fly has no allowlist for
// a dedicated IPv4, and stock frps does not read PROXY headers to filter on. So such a Service is never published
// wider than it asks without someone saying so: a new one is not published; one already published keeps its
// address (taking it away would break what works) but carries a Warning condition and Event; the annotation
// `ignore-source-ranges: "true"` accepts that the ranges are ignored.
import { Annotations, Reasons } from "@fly-tunnel-operator/api"
import type { V1Condition, V1Service } from "@kubernetes/client-node"
import { SOURCE_RANGES_ANNOTATION } from "../kube/kubeCache.ts"
import type { ServiceSpecProblem } from "./serviceTunnelSpec.ts"

/** The Service condition this sets while ranges are asked for and not accepted as ignored. */
export const SOURCE_RANGES_CONDITION = "fly-tunnel-operator.dev/SourceRangesEnforced"

export type SourceRangesVerdict =
  /** No ranges asked for, or the owner accepted that they are ignored. */
  | { readonly enforced: true }
  | { readonly enforced: false; readonly field: string; readonly ranges: ReadonlyArray<string> }

const requested = (service: V1Service): { readonly field: string; readonly ranges: ReadonlyArray<string> } => {
  const fromSpec = service.spec?.loadBalancerSourceRanges ?? []
  if (fromSpec.length > 0) return { field: "spec.loadBalancerSourceRanges", ranges: fromSpec }
  const fromAnnotation = (service.metadata?.annotations?.[SOURCE_RANGES_ANNOTATION] ?? "")
    .split(",")
    .map((range) => range.trim())
    .filter((range) => range !== "")
  return { field: `annotation ${SOURCE_RANGES_ANNOTATION}`, ranges: fromAnnotation }
}

/** The value of `ignore-source-ranges`, when it is not one the operator understands. */
export const ignoreSourceRangesProblem = (service: V1Service): ServiceSpecProblem | undefined => {
  const value = service.metadata?.annotations?.[Annotations.ignoreSourceRanges]
  return value === undefined || value === "true" || value === "false"
    ? undefined
    : { field: Annotations.ignoreSourceRanges, value, message: 'expected "true" or "false"' }
}

export const sourceRangesVerdict = (service: V1Service): SourceRangesVerdict => {
  const { field, ranges } = requested(service)
  const accepted = service.metadata?.annotations?.[Annotations.ignoreSourceRanges] === "true"
  return ranges.length === 0 || accepted ? { enforced: true } : { enforced: false, field, ranges }
}

const why = (verdict: Extract<SourceRangesVerdict, { enforced: false }>) =>
  `${verdict.field} (${verdict.ranges.join(", ")}) cannot be enforced: Fly has no allowlist for a dedicated IPv4 and frps does not read PROXY headers, so every address on the internet could connect`

const fix = `remove the field, or set the annotation ${Annotations.ignoreSourceRanges}: "true" to publish with the ranges ignored`

/** For a Service not published yet: why it is not, and what to do. */
export const notPublishedMessage = (verdict: Extract<SourceRangesVerdict, { enforced: false }>): string =>
  `not published: ${why(verdict)}; ${fix}`

/** For a published Service: it stays published, wider than asked, and what to do. */
export const publishedAnywayMessage = (verdict: Extract<SourceRangesVerdict, { enforced: false }>): string =>
  `the public address stays published to every address: ${why(verdict)}; ${fix}`

/** The Warning condition on a published Service whose ranges are not enforced (keeps its transition time). */
export const sourceRangesCondition = (message: string, before: V1Condition | undefined, now: string): V1Condition => ({
  type: SOURCE_RANGES_CONDITION,
  status: "False",
  reason: Reasons.SourceRangesNotEnforced,
  message,
  lastTransitionTime: before?.status === "False" ? before.lastTransitionTime : new Date(now),
})
