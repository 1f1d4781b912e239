import type { FlyTunnelStatus } from "@fly-tunnel-operator/api"
import { type App, FlyClient } from "@fly-tunnel-operator/fly"
import { Env } from "@fly-tunnel-operator/frp"
import { Effect } from "effect"
import { blockedByFly } from "./tunnelBlocked.ts"
import { tokenDigest } from "./tunnelSecret.ts"

/** What the App holds of the tunnel's token: the secrets version that has it, and which token it is. */
export interface PushedToken {
  readonly secretsVersion: number
  readonly tokenDigest: string
}

/**
 * Gives the App the token frps reads (`FRP_TOKEN`), unless status records that this App already
 * has this very token: once per App (a rebuilt App has a new id) and again after the token
 * changed. An empty token is never pushed (the caller makes one first).
 */
export const ensureFlySecret = Effect.fn("ensureFlySecret")(function* (
  token: string,
  app: App,
  recorded: FlyTunnelStatus["app"],
) {
  const digest = tokenDigest(token)
  if (recorded?.id === app.id && recorded.tokenDigest === digest && recorded.secretsVersion !== undefined) {
    return { secretsVersion: recorded.secretsVersion, tokenDigest: digest } satisfies PushedToken
  }
  if (token === "") return yield* Effect.die(new Error("refusing to push an empty frp token to Fly"))
  const fly = yield* FlyClient
  const { version } = yield* fly.setSecrets(app.name, { [Env.token]: token })
  return { secretsVersion: version, tokenDigest: digest } satisfies PushedToken
}, blockedByFly("AppReady"))
