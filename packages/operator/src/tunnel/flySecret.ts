import type { FlyTunnelStatus } from "@fly-tunnel-operator/api"
import { type App, FlyClient } from "@fly-tunnel-operator/fly"
import { Env } from "@fly-tunnel-operator/frp"
import { Effect } from "effect"
import { blockedByFly } from "./tunnelBlocked.ts"
import type { TunnelTls } from "./tunnelCertificates.ts"
import { tlsDigest, tokenDigest } from "./tunnelSecret.ts"

/** The App secrets frps's certificate and key are mounted from (Machine `files[].secret_name`; values base64). */
export const FrpsTlsSecrets = { cert: "FRPS_TLS_CERT", key: "FRPS_TLS_KEY" } as const

/** What the App holds: the secrets version that has it, which token and which certificates it is. */
export interface PushedToken {
  readonly secretsVersion: number
  readonly tokenDigest: string
  readonly tlsDigest: string
}

/**
 * Gives the App what frps reads at start: the token (`FRP_TOKEN`) and its certificate and key (mounted as files),
 * unless status records that this App already holds these very ones: once per App (a rebuilt App has a new id) and
 * again after the token or the certificates changed. An empty token is never pushed (the caller makes one first).
 */
export const ensureFlySecret = Effect.fn("ensureFlySecret")(function* (
  token: string,
  tls: TunnelTls,
  app: App,
  recorded: FlyTunnelStatus["app"],
) {
  const digests = { tokenDigest: tokenDigest(token), tlsDigest: tlsDigest(tls) }
  if (
    recorded?.id === app.id &&
    recorded.tokenDigest === digests.tokenDigest &&
    recorded.tlsDigest === digests.tlsDigest &&
    recorded.secretsVersion !== undefined
  ) {
    return { secretsVersion: recorded.secretsVersion, ...digests } satisfies PushedToken
  }
  if (token === "") return yield* Effect.die(new Error("refusing to push an empty frp token to Fly"))
  const fly = yield* FlyClient
  const { version } = yield* fly.setSecrets(app.name, {
    [Env.token]: token,
    [FrpsTlsSecrets.cert]: Buffer.from(tls.server.certPem).toString("base64"),
    [FrpsTlsSecrets.key]: Buffer.from(tls.server.keyPem).toString("base64"),
  })
  return { secretsVersion: version, ...digests } satisfies PushedToken
}, blockedByFly("AppReady"))
