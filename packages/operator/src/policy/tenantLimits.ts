// What a namespace user may spend or place, as a pure check of a decoded spec against the chart's `tenants.*`
// values. Each problem names the spec field and the value that bounds it; the ValidatingAdmissionPolicy says the same.
import type { FlyTunnelSpec } from "@fly-tunnel-operator/api"
import { describeSelector, isEmptySelector, selectorMatches } from "./labelSelector.ts"
import type { TenantLimits } from "./tunnelPolicy.ts"

/** A spec field the policy refuses, and why. */
export interface PolicyProblem {
  /** `spec.regions[1]`, `spec.machineSize`, `metadata.namespace`… */
  readonly path: string
  readonly message: string
}

export const describePolicyProblems = (problems: ReadonlyArray<PolicyProblem>): string =>
  problems.map((problem) => `${problem.path}: ${problem.message}`).join("; ")

/** Every tenant limit the spec exceeds. */
export const tenantLimitProblems = (spec: FlyTunnelSpec, limits: TenantLimits): ReadonlyArray<PolicyProblem> => {
  const problems: Array<PolicyProblem> = []
  if (limits.machineSizes.length > 0 && !limits.machineSizes.includes(spec.machineSize)) {
    problems.push({
      path: "spec.machineSize",
      message: `${spec.machineSize} is not allowed here (chart value tenants.machineSizes: ${limits.machineSizes.join(", ")})`,
    })
  }
  if (spec.regions.length > limits.maxRegions) {
    problems.push({
      path: "spec.regions",
      message: `${spec.regions.length} regions, at most ${limits.maxRegions} allowed here (chart value tenants.maxRegions)`,
    })
  }
  if (limits.regions.length > 0) {
    spec.regions.forEach((region, index) => {
      if (!limits.regions.includes(region)) {
        problems.push({
          path: `spec.regions[${index}]`,
          message: `${region} is not allowed here (chart value tenants.regions: ${limits.regions.join(", ")})`,
        })
      }
    })
  }
  if (spec.frpc.replicas > limits.maxFrpcReplicas) {
    problems.push({
      path: "spec.frpc.replicas",
      message: `${spec.frpc.replicas}, at most ${limits.maxFrpcReplicas} allowed here (chart value tenants.maxFrpcReplicas)`,
    })
  }
  if (!limits.allowFrpcScheduling) {
    for (const field of ["nodeSelector", "tolerations"] as const) {
      if (spec.frpc[field] !== undefined) {
        problems.push({
          path: `spec.frpc.${field}`,
          message: "tunnels may not place frpc here (chart value tenants.allowFrpcScheduling is false)",
        })
      }
    }
  }
  return problems
}

/** Whether the namespace may have tunnels at all. */
export const namespaceProblem = (
  namespace: string,
  labels: Readonly<Record<string, string>>,
  limits: TenantLimits,
): PolicyProblem | undefined =>
  isEmptySelector(limits.namespaceSelector) || selectorMatches(limits.namespaceSelector, labels)
    ? undefined
    : {
        path: "metadata.namespace",
        message: `namespace ${namespace} may not have tunnels: its labels do not match the chart value tenants.namespaceSelector (${describeSelector(limits.namespaceSelector)})`,
      }
