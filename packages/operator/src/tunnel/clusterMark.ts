// Which cluster an App belongs to. Fly Apps carry no labels or metadata, their network is fixed when they are made and
// their names are near Fly's length limit, so the mark is an App secret: its NAME carries the cluster's identity
// (secret values cannot be read back through the API, names and digests can). Setting a secret works on any App —
// new ones, ones made before marks existed (marked on their next reconcile) and adopted ones — and costs nothing.
import type { AppSecret } from "@fly-tunnel-operator/fly"

const PREFIX = "FTO_CLUSTER_"

/** The secret whose presence says "this cluster's": an env-var-safe name, e.g. FTO_CLUSTER_0A1B… */
export const clusterMarkName = (clusterId: string): string =>
  `${PREFIX}${clusterId.replace(/[^A-Za-z0-9]/g, "").toUpperCase()}`

/** Whether an App's secrets mark it as the given cluster's. */
export const markedAs = (secrets: ReadonlyArray<AppSecret>, clusterId: string): boolean =>
  secrets.some((secret) => secret.name === clusterMarkName(clusterId))

/** Whether an App's secrets carry some cluster's mark. */
export const marked = (secrets: ReadonlyArray<AppSecret>): boolean =>
  secrets.some((secret) => secret.name.startsWith(PREFIX))

const TUNNEL_PREFIX = "FTO_TUNNEL_"

/**
 * The secret an adopted App carries for the tunnel that took it over, e.g. FTO_TUNNEL_0A1B…: an adopted App's name and
 * network do not say whose it is (the Go operator's, or a gone tunnel's), so this mark does.
 */
export const tunnelMarkName = (tunnelUid: string): string =>
  `${TUNNEL_PREFIX}${tunnelUid.replace(/[^A-Za-z0-9]/g, "").toUpperCase()}`

/** Whether an App's secrets mark it as taken over by the given tunnel. */
export const markedForTunnel = (secrets: ReadonlyArray<AppSecret>, tunnelUid: string): boolean =>
  secrets.some((secret) => secret.name === tunnelMarkName(tunnelUid))

/** The names of other clusters' marks an App carries. */
export const otherClustersMarks = (secrets: ReadonlyArray<AppSecret>, clusterId: string): ReadonlyArray<string> =>
  secrets.map((secret) => secret.name).filter((name) => name.startsWith(PREFIX) && name !== clusterMarkName(clusterId))
