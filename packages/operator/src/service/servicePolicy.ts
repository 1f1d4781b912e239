import { annotationOfSpecPath, type FlyTunnelSpec } from "@fly-tunnel-operator/api"
import type { V1Service } from "@kubernetes/client-node"
import { Effect } from "effect"
import { namespacePolicyProblem } from "../policy/namespacePolicy.ts"
import { tenantLimitProblems } from "../policy/tenantLimits.ts"
import { TunnelPolicy } from "../policy/tunnelPolicy.ts"
import { describeProblem } from "./serviceTunnelSpec.ts"
import { ignoreSourceRangesProblem } from "./sourceRanges.ts"

/**
 * What the cluster's policy refuses in the tunnel a Service asks for, each named by the annotation it came from (or
 * the Service field), checked before the FlyTunnel is created or changed, so the Service owner reads it on the
 * Service. The FlyTunnel's own checks (and the admission policy) would refuse the same.
 */
export const servicePolicyProblems = Effect.fn("servicePolicyProblems")(function* (
  service: V1Service,
  spec: FlyTunnelSpec,
) {
  const policy = yield* TunnelPolicy
  const annotations = service.metadata?.annotations ?? {}
  const problems = tenantLimitProblems(spec, policy.tenants).map(
    (problem) => `${annotationOfSpecPath(problem.path, annotations) ?? problem.path}: ${problem.message}`,
  )
  const namespace = yield* namespacePolicyProblem(service.metadata?.namespace ?? "")
  if (namespace !== undefined) problems.push(`${namespace.path}: ${namespace.message}`)
  const ignore = ignoreSourceRangesProblem(service)
  if (ignore !== undefined) problems.push(describeProblem(ignore))
  return problems
})
