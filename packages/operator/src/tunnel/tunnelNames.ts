import { Labels, MANAGED_BY } from "@fly-tunnel-operator/api"

/** The identity of a tunnel everything else is named after. The UID makes names unique across clusters. */
export interface TunnelIdentity {
  readonly namespace: string
  readonly name: string
  readonly uid: string
}

const slug = (text: string, max: number): string =>
  text
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .slice(0, max)
    .replace(/^-+|-+$/g, "")

/**
 * Fly App names are global across all of Fly.io: a readable prefix plus the FlyTunnel UID, so two clusters never
 * collide and a restarted operator always finds what it created (at most 61 of Fly's 63 characters).
 */
export const flyAppName = (tunnel: TunnelIdentity): string => `fto-${slug(tunnel.name, 20) || "tunnel"}-${tunnel.uid}`

/**
 * The App's isolated private network. It is also our ownership mark: an App of the derived name on another network
 * is not ours and is never adopted.
 */
export const flyNetworkName = (tunnel: Pick<TunnelIdentity, "uid">): string => `fto-${tunnel.uid}`

/** Machine names are unique per App, so a repeated create of a slot's Machine cannot succeed twice. */
export const machineName = (slotKey: string): string => `frps-${slotKey}`

/** The Secret of the tunnel's frpc (token and one config per Machine), in the operator's namespace. */
export const frpcObjectName = (tunnel: Pick<TunnelIdentity, "uid">): string => `frpc-${tunnel.uid}`

/** The frpc Deployment of one Machine (one per slot, see frpsSlot.ts). */
export const frpcDeploymentName = (tunnel: TunnelIdentity, slotKey: string): string => `frpc-${tunnel.uid}-${slotKey}`

export const tunnelLabels = (tunnel: TunnelIdentity): Readonly<Record<string, string>> => ({
  [Labels.managedBy]: MANAGED_BY,
  [Labels.tunnelUid]: tunnel.uid,
  [Labels.tunnelNamespace]: tunnel.namespace,
  [Labels.tunnelName]: tunnel.name,
})

/** Metadata keys on every Machine, for lookup by the Machines API's metadata filter. */
export const MachineMetadata = {
  tunnelUid: "fly-tunnel-operator.dev/tunnel-uid",
  region: "fly-tunnel-operator.dev/region",
  /** `udp` on the Machine of the tunnel's UDP ports; absent on the TCP one (see frpsSlot.ts). */
  role: "fly-tunnel-operator.dev/role",
  configHash: "fly-tunnel-operator.dev/config-hash",
} as const
