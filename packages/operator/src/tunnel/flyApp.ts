import { Reasons } from "@fly-tunnel-operator/api"
import { type App, FlyClient } from "@fly-tunnel-operator/fly"
import { Effect, Option } from "effect"
import { blockedByFly, TunnelBlocked } from "./tunnelBlocked.ts"
import { flyAppName, flyNetworkName, type TunnelIdentity } from "./tunnelNames.ts"
import { TunnelSettings } from "./tunnelSettings.ts"

const findApp = (fly: FlyClient["Service"], name: string) =>
  fly.getApp(name).pipe(
    Effect.map(Option.some),
    Effect.catchTag("FlyNotFound", () => Effect.succeedNone),
  )

const requireOurs = (tunnel: TunnelIdentity, app: App): Effect.Effect<App, TunnelBlocked> =>
  app.network === flyNetworkName(tunnel)
    ? Effect.succeed(app)
    : Effect.fail(
        new TunnelBlocked({
          condition: "AppReady",
          reason: Reasons.AppNameTaken,
          message: `Fly App ${app.name} exists but is not on network ${flyNetworkName(tunnel)}, so it is not this tunnel's; it is never adopted. Delete and recreate the FlyTunnel to get a new name.`,
          retry: false,
        }),
      )

/**
 * The tunnel's Fly App: found, or created on its own isolated network. A create whose answer was lost (timeout) or
 * that raced another create is resolved by looking again, never by creating twice.
 */
export const ensureFlyApp = Effect.fn("ensureFlyApp")(function* (tunnel: TunnelIdentity) {
  const fly = yield* FlyClient
  const settings = yield* TunnelSettings
  const name = flyAppName(tunnel)
  const existing = yield* findApp(fly, name)
  if (Option.isSome(existing)) return yield* requireOurs(tunnel, existing.value)
  yield* fly
    .createApp({ name, org_slug: settings.flyOrg, network: flyNetworkName(tunnel), idempotency_key: tunnel.uid })
    .pipe(Effect.catchTags({ FlyTimeout: () => Effect.void, FlyNameTaken: () => Effect.void }))
  const created = yield* findApp(fly, name)
  if (Option.isNone(created)) {
    return yield* new TunnelBlocked({
      condition: "AppReady",
      reason: Reasons.FlyError,
      message: `Fly App ${name} was requested but is not visible yet`,
      retry: true,
    })
  }
  return yield* requireOurs(tunnel, created.value)
}, blockedByFly("AppReady"))
