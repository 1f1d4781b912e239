import type { FlyTunnelStatus } from "@fly-tunnel-operator/api"
import { type App, FlyClient } from "@fly-tunnel-operator/fly"
import { Env } from "@fly-tunnel-operator/frp"
import { Effect } from "effect"
import { ClusterIdentity } from "../kube/clusterIdentity.ts"
import { clusterMarkName, tunnelMarkName } from "./clusterMark.ts"
import { blockedByFly } from "./tunnelBlocked.ts"
import type { TunnelIdentity } from "./tunnelNames.ts"
import { tokenDigest } from "./tunnelSecret.ts"

/** What the App holds: the secrets version with the tunnel's token, which token it is, and whose App it is. */
export interface PushedToken {
  readonly secretsVersion: number
  readonly tokenDigest: string
  readonly cluster: string
}

/**
 * Gives the App the token frps reads (`FRP_TOKEN`) and this cluster's mark (an adopted App also this tunnel's mark,
 * see appAdoption.ts), unless status records that this App already has this very token and mark: once per App (a
 * rebuilt App has a new id), again after the token changed, and once for an App made before marks existed. An empty
 * token is never pushed (the caller makes one first).
 */
export const ensureFlySecret = Effect.fn("ensureFlySecret")(function* (
  tunnel: TunnelIdentity,
  token: string,
  app: App,
  recorded: FlyTunnelStatus["app"],
  adopted: boolean,
) {
  const { id: cluster } = yield* ClusterIdentity
  const digest = tokenDigest(token)
  if (
    recorded?.id === app.id &&
    recorded.tokenDigest === digest &&
    recorded.secretsVersion !== undefined &&
    recorded.cluster === cluster
  ) {
    return { secretsVersion: recorded.secretsVersion, tokenDigest: digest, cluster } satisfies PushedToken
  }
  if (token === "") return yield* Effect.die(new Error("refusing to push an empty frp token to Fly"))
  const fly = yield* FlyClient
  const { version } = yield* fly.setSecrets(app.name, {
    [Env.token]: token,
    // The value is for a human reading the App's secrets; only the name is ever compared.
    [clusterMarkName(cluster)]: `${tunnel.namespace}/${tunnel.name}`,
    ...(adopted ? { [tunnelMarkName(tunnel.uid)]: `${tunnel.namespace}/${tunnel.name}` } : {}),
  })
  return { secretsVersion: version, tokenDigest: digest, cluster } satisfies PushedToken
}, blockedByFly("AppReady"))
