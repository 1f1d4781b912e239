// The tunnel policy applied to one FlyTunnel, before anything is created on Fly: tenant limits, the namespace, and
// for an address target every address it stands for. A host name is resolved here, each of its addresses checked,
// and the checked address is the one frpc dials (pinned in its config), so DNS cannot swap it afterwards; every pass
// (and so every resync) resolves and checks again.
import { isIP } from "node:net"
import { type FlyTunnelSpec, Reasons } from "@fly-tunnel-operator/api"
import { Effect } from "effect"
import { ClusterRanges } from "../kube/clusterRanges.ts"
import type { KubeError } from "../kube/kubeErrors.ts"
import { addressRefusal, hostNameRefusal } from "../policy/addressRules.ts"
import { type HostNotResolved, HostResolver } from "../policy/hostResolver.ts"
import { namespacePolicyProblem } from "../policy/namespacePolicy.ts"
import { describePolicyProblems, type PolicyProblem, tenantLimitProblems } from "../policy/tenantLimits.ts"
import { TunnelPolicy } from "../policy/tunnelPolicy.ts"
import { invalidSpec, TunnelBlocked } from "./tunnelBlocked.ts"

const HOST_PATH = "spec.target.address.host"

/** What the policy admitted: for an address target, the checked address frpc dials. */
export interface AdmittedTunnel {
  readonly targetAddress?: string
}

/** A refusal of the policy; `addressRefused` says the target itself was refused (so nothing may carry traffic to it). */
export interface RefusedTunnel {
  readonly blocked: TunnelBlocked
  readonly addressRefused: boolean
}

/** Every address of the target, checked; the problems, or the address frpc is to dial. */
const checkAddressTarget = Effect.fn("checkAddressTarget")(function* (
  host: string,
  pinnedBefore: string | undefined,
): Effect.fn.Return<
  { readonly problems: ReadonlyArray<PolicyProblem>; readonly targetAddress?: string },
  HostNotResolved | KubeError,
  HostResolver | ClusterRanges
> {
  const policy = (yield* TunnelPolicy).addressTargets
  if (!policy.enabled) {
    return {
      problems: [
        {
          path: "spec.target.address",
          message: "address targets are disabled in this cluster (chart value addressTargets.enabled is false)",
        },
      ],
    }
  }
  const isAddress = isIP(host) !== 0
  if (!isAddress) {
    const refusal = hostNameRefusal(host, policy)
    if (refusal !== undefined) return { problems: [{ path: HOST_PATH, message: refusal }] }
  }
  const addresses = isAddress ? [host] : yield* (yield* HostResolver).resolve(host)
  const cluster = yield* (yield* ClusterRanges).current
  const problems = addresses.flatMap((address): ReadonlyArray<PolicyProblem> => {
    const refusal = addressRefusal(address, policy, cluster)
    if (refusal === undefined) return []
    return [{ path: HOST_PATH, message: isAddress ? refusal : `${host} resolves to ${refusal}` }]
  })
  if (problems.length > 0) return { problems }
  // Keep the address dialled so far while the name still stands for it: a round-robin answer must not roll frpc.
  const targetAddress = pinnedBefore !== undefined && addresses.includes(pinnedBefore) ? pinnedBefore : addresses[0]
  return { problems: [], ...(targetAddress === undefined ? {} : { targetAddress }) }
})

/**
 * The policy's verdict on a decoded spec: admitted (with the pinned target address), or refused with an
 * `InvalidSpec` naming every field at fault. A host name that does not resolve cannot be checked, so nothing
 * proceeds either; it is tried again later.
 */
export const checkTunnelPolicy = Effect.fn("checkTunnelPolicy")(function* (
  namespace: string,
  spec: FlyTunnelSpec,
  pinnedBefore: string | undefined,
) {
  const policy = yield* TunnelPolicy
  const problems: Array<PolicyProblem> = [...tenantLimitProblems(spec, policy.tenants)]
  const namespaceRefusal = yield* namespacePolicyProblem(namespace)
  if (namespaceRefusal !== undefined) problems.push(namespaceRefusal)
  let admitted: AdmittedTunnel = {}
  let addressRefused = false
  const host = spec.target.address?.host
  if (host !== undefined) {
    const checked = yield* checkAddressTarget(host, pinnedBefore).pipe(
      Effect.catchTag("HostNotResolved", (error) =>
        Effect.succeed({
          unresolved: new TunnelBlocked({
            condition: "ClientReady",
            reason: Reasons.TargetNotFound,
            message: `${HOST_PATH}: ${error.message}; nothing is provisioned until it resolves to an allowed address`,
            retry: true,
          }),
        }),
      ),
    )
    if ("unresolved" in checked) {
      return problems.length > 0
        ? ({ blocked: invalidSpec(describePolicyProblems(problems)), addressRefused: false } satisfies RefusedTunnel)
        : ({ blocked: checked.unresolved, addressRefused: false } satisfies RefusedTunnel)
    }
    addressRefused = checked.problems.length > 0
    problems.push(...checked.problems)
    if (checked.targetAddress !== undefined) admitted = { targetAddress: checked.targetAddress }
  }
  if (problems.length > 0) {
    return { blocked: invalidSpec(describePolicyProblems(problems)), addressRefused } satisfies RefusedTunnel
  }
  return admitted
})

export const isRefused = (verdict: AdmittedTunnel | RefusedTunnel): verdict is RefusedTunnel => "blocked" in verdict
