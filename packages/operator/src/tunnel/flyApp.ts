import { Reasons } from "@fly-tunnel-operator/api"
import { type App, FlyClient } from "@fly-tunnel-operator/fly"
import { Effect, Option, Schema } from "effect"
import { AppCreator } from "./appCreator.ts"
import { blockedByFly, TunnelBlocked } from "./tunnelBlocked.ts"
import { flyAppName, flyNetworkName, type TunnelIdentity } from "./tunnelNames.ts"
import { TunnelSettings } from "./tunnelSettings.ts"

/** The tunnel's App create waits in line (Fly's per-org rate limit); AppCreator wakes the tunnel with the answer. */
export class AppCreationQueued extends Schema.TaggedError<AppCreationQueued>()("AppCreationQueued", {}) {}

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
 * The tunnel's Fly App: found, or created on its own isolated network (through AppCreator, in line for Fly's
 * per-org limit). For a new tunnel (no status yet), the create goes first (no look before it: the name is the tunnel's own and unique on Fly, so a create cannot make a second App).
 * Answers the App and whether this very call created it (a just-created App has no Machines and no IPs yet).
 * Only a 201 to this create counts as `created`; a name already taken, a lost answer or a timeout is resolved by
 * looking, never by creating twice — which is also why no idempotency key is sent: with one, a repeated create
 * answers 201 for the App an earlier pass made, which may already have Machines.
 */
export const ensureFlyApp = Effect.fn("ensureFlyApp")(function* (
  tunnel: TunnelIdentity,
  key: string,
  statusWritten: boolean,
) {
  const fly = yield* FlyClient
  const settings = yield* TunnelSettings
  const creator = yield* AppCreator
  const name = flyAppName(tunnel)
  // Only a tunnel whose status was never written (a new one) creates without looking, or one whose create is in
  // line already: a status without an App may be a stale view of a pass that has just created it (the cache lags
  // behind our own writes).
  if (statusWritten && !(yield* creator.asked(key))) {
    const existing = yield* findApp(fly, name)
    if (Option.isSome(existing)) return { app: yield* requireOurs(tunnel, existing.value), created: false }
  }
  const network = flyNetworkName(tunnel)
  const creation = yield* creator.create(key, { name, org_slug: settings.flyOrg, network })
  if (creation._tag === "Queued") return yield* new AppCreationQueued()
  const answer = yield* Effect.suspend(() => creation.answer).pipe(
    Effect.map(Option.some),
    Effect.catchTags({ FlyTimeout: () => Effect.succeedNone, FlyNameTaken: () => Effect.succeedNone }),
  )
  if (Option.isSome(answer)) return { app: { id: answer.value.id, name, network }, created: true }
  const found = yield* findApp(fly, name)
  if (Option.isNone(found)) {
    return yield* new TunnelBlocked({
      condition: "AppReady",
      reason: Reasons.FlyError,
      message: `Fly App ${name} was requested but is not visible yet`,
      retry: true,
    })
  }
  return { app: yield* requireOurs(tunnel, found.value), created: false }
}, blockedByFly("AppReady"))
