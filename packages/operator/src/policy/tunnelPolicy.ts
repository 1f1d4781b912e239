// What the cluster admin allows tunnels to do (chart values `addressTargets.*` and `tenants.*`). The chart renders
// the same values into the ValidatingAdmissionPolicy that refuses at admission; the operator checks again, before
// any Fly call that creates something, because admission can be bypassed (policy installed later, values changed)
// and cannot know the cluster's own ranges or what a host name resolves to.
import { MAX_FRPC_REPLICAS, MAX_REGIONS, type MachineSize } from "@fly-tunnel-operator/api"
import { Context } from "effect"
import { type IpRange, parseIpRanges } from "./ipRange.ts"
import type { LabelSelector } from "./labelSelector.ts"

export interface AddressTargetPolicy {
  /** Whether a FlyTunnel may target an address at all (`addressTargets.enabled`). */
  readonly enabled: boolean
  /** The ranges an address target may lie in (`addressTargets.allowedCIDRs`). */
  readonly allowedRanges: ReadonlyArray<IpRange>
  /** Host name suffixes a target may name (`addressTargets.allowedHostnames`); empty: no host names. */
  readonly allowedHostnames: ReadonlyArray<string>
  /** More ranges refused whatever else allows them, e.g. Pod ranges the operator cannot discover (`addressTargets.refusedCIDRs`). */
  readonly refusedRanges: ReadonlyArray<IpRange>
}

export interface TenantLimits {
  /** Machine sizes a tunnel may use (`tenants.machineSizes`); empty: every size. */
  readonly machineSizes: ReadonlyArray<MachineSize>
  /** Regions a tunnel may use (`tenants.regions`); empty: every region. */
  readonly regions: ReadonlyArray<string>
  readonly maxRegions: number
  readonly maxFrpcReplicas: number
  /** Whether a tunnel may set `spec.frpc.nodeSelector` and `spec.frpc.tolerations` (`tenants.allowFrpcScheduling`). */
  readonly allowFrpcScheduling: boolean
  /** Namespaces that may have tunnels (`tenants.namespaceSelector`); empty: every namespace. */
  readonly namespaceSelector: LabelSelector
}

export interface TunnelPolicyShape {
  readonly addressTargets: AddressTargetPolicy
  readonly tenants: TenantLimits
}

/** The private ranges (RFC 1918) and IPv6 unique local addresses: what a LAN host normally has. */
export const DEFAULT_ALLOWED_CIDRS = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"] as const

/** The chart's defaults: address targets on private ranges only; tenants bounded only by the CRD's own limits. */
export const DEFAULT_TUNNEL_POLICY: TunnelPolicyShape = {
  addressTargets: {
    enabled: true,
    allowedRanges: parseIpRanges(DEFAULT_ALLOWED_CIDRS),
    allowedHostnames: [],
    refusedRanges: [],
  },
  tenants: {
    machineSizes: [],
    regions: [],
    maxRegions: MAX_REGIONS,
    maxFrpcReplicas: MAX_FRPC_REPLICAS,
    allowFrpcScheduling: true,
    namespaceSelector: {},
  },
}

/** The install's policy; the defaults unless the operator's settings say otherwise. */
export const TunnelPolicy = Context.Reference<TunnelPolicyShape>("@fly-tunnel-operator/operator/policy/TunnelPolicy", {
  defaultValue: () => DEFAULT_TUNNEL_POLICY,
})

/** The policy from the operator's settings (decoded and checked by config/operatorConfig.ts). */
export const tunnelPolicyOf = (settings: {
  readonly addressTargetsEnabled: "true" | "false"
  readonly addressTargetsAllowedCidrs: ReadonlyArray<string>
  readonly addressTargetsAllowedHostnames: ReadonlyArray<string>
  readonly addressTargetsRefusedCidrs: ReadonlyArray<string>
  readonly tenantMachineSizes: ReadonlyArray<MachineSize>
  readonly tenantRegions: ReadonlyArray<string>
  readonly tenantMaxRegions: number
  readonly tenantMaxFrpcReplicas: number
  readonly tenantAllowFrpcScheduling: "true" | "false"
  readonly tenantNamespaceSelector: LabelSelector
}): TunnelPolicyShape => ({
  addressTargets: {
    enabled: settings.addressTargetsEnabled === "true",
    allowedRanges: parseIpRanges(settings.addressTargetsAllowedCidrs),
    allowedHostnames: settings.addressTargetsAllowedHostnames,
    refusedRanges: parseIpRanges(settings.addressTargetsRefusedCidrs),
  },
  tenants: {
    machineSizes: settings.tenantMachineSizes,
    regions: settings.tenantRegions,
    maxRegions: settings.tenantMaxRegions,
    maxFrpcReplicas: settings.tenantMaxFrpcReplicas,
    allowFrpcScheduling: settings.tenantAllowFrpcScheduling === "true",
    namespaceSelector: settings.tenantNamespaceSelector,
  },
})
