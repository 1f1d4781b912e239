import type { FlyTunnelStatus } from "@fly-tunnel-operator/api"
import { type App, FlyClient } from "@fly-tunnel-operator/fly"
import { Env } from "@fly-tunnel-operator/frp"
import { Effect } from "effect"
import { ClusterIdentity } from "../kube/clusterIdentity.ts"
import { clusterMarkName, tunnelMarkName } from "./clusterMark.ts"
import { blockedByFly } from "./tunnelBlocked.ts"
import type { TunnelTls } from "./tunnelCertificates.ts"
import type { TunnelIdentity } from "./tunnelNames.ts"
import { tlsDigest, tokenDigest } from "./tunnelSecret.ts"

/** The App secrets frps's certificate and key are mounted from (Machine `files[].secret_name`; values base64). */
export const FrpsTlsSecrets = { cert: "FRPS_TLS_CERT", key: "FRPS_TLS_KEY" } as const

/** What the App holds: the secrets version that has it, which token and certificates it is, and whose App it is. */
export interface PushedToken {
  readonly secretsVersion: number
  readonly tokenDigest: string
  readonly tlsDigest: string
  readonly cluster: string
}

/**
 * Gives the App what frps reads at start — the token (`FRP_TOKEN`) and its certificate and key (mounted as files) —
 * and this cluster's mark (an adopted App also this tunnel's mark, see appAdoption.ts), unless status records that
 * this App already has these very ones: once per App (a rebuilt App has a new id), again after the token or the
 * certificates changed, and once for an App made before marks existed. An empty token is never pushed (the caller
 * makes one first).
 */
export const ensureFlySecret = Effect.fn("ensureFlySecret")(function* (
  tunnel: TunnelIdentity,
  token: string,
  tls: TunnelTls,
  app: App,
  recorded: FlyTunnelStatus["app"],
  adopted: boolean,
) {
  const { id: cluster } = yield* ClusterIdentity
  const digests = { tokenDigest: tokenDigest(token), tlsDigest: tlsDigest(tls) }
  if (
    recorded?.id === app.id &&
    recorded.tokenDigest === digests.tokenDigest &&
    recorded.tlsDigest === digests.tlsDigest &&
    recorded.secretsVersion !== undefined &&
    recorded.cluster === cluster
  ) {
    return { secretsVersion: recorded.secretsVersion, ...digests, cluster } satisfies PushedToken
  }
  if (token === "") return yield* Effect.die(new Error("refusing to push an empty frp token to Fly"))
  const fly = yield* FlyClient
  const { version } = yield* fly.setSecrets(app.name, {
    [Env.token]: token,
    [FrpsTlsSecrets.cert]: Buffer.from(tls.server.certPem).toString("base64"),
    [FrpsTlsSecrets.key]: Buffer.from(tls.server.keyPem).toString("base64"),
    // The value is for a human reading the App's secrets; only the name is ever compared.
    [clusterMarkName(cluster)]: `${tunnel.namespace}/${tunnel.name}`,
    ...(adopted ? { [tunnelMarkName(tunnel.uid)]: `${tunnel.namespace}/${tunnel.name}` } : {}),
  })
  return { secretsVersion: version, ...digests, cluster } satisfies PushedToken
}, blockedByFly("AppReady"))
