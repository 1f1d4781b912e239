import { Reasons } from "@fly-tunnel-operator/api"
import { FlyClient, type FlyError } from "@fly-tunnel-operator/fly"
import { Context, Effect, Exit, Layer } from "effect"
import { blockedByFly, TunnelBlocked } from "./tunnelBlocked.ts"

/**
 * The regions Fly takes new Machines in: its own list (`GET /v1/platform/regions`) without the deprecated ones, read
 * at most once an hour (a failed read is not kept), so a tunnel naming a region Fly does not have is refused before
 * anything of it is created.
 */
export class FlyRegions extends Context.Service<
  FlyRegions,
  { readonly known: Effect.Effect<ReadonlySet<string>, FlyError> }
>()("@fly-tunnel-operator/operator/tunnel/FlyRegions") {
  static readonly layer: Layer.Layer<FlyRegions, never, FlyClient> = Layer.effect(
    FlyRegions,
    Effect.gen(function* () {
      const fly = yield* FlyClient
      const known = yield* fly.listRegions().pipe(
        Effect.map(
          (answer) =>
            new Set(answer.regions.filter((region) => region.deprecated !== true).map((region) => region.code)),
        ),
        Effect.cachedWithTTL((exit) => (Exit.isSuccess(exit) ? "1 hour" : 0)),
      )
      return FlyRegions.of({ known })
    }),
  )
}

/** Refuses, naming them, the regions Fly does not have; nothing is created for such a tunnel. */
export const checkRegions = Effect.fn("checkRegions")(function* (regions: ReadonlyArray<string>) {
  const known = yield* (yield* FlyRegions).known
  const unknown = regions.filter((region) => !known.has(region))
  if (unknown.length === 0) return
  return yield* new TunnelBlocked({
    condition: "Ready",
    reason: Reasons.InvalidSpec,
    message: `spec.regions: ${unknown.map((region) => JSON.stringify(region)).join(", ")} ${unknown.length === 1 ? "is not a region" : "are not regions"} Fly offers; use one of ${[...known].sort().join(", ")}`,
    retry: false,
  })
}, blockedByFly("Ready"))
