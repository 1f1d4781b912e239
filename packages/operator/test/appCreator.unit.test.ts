import { FlyClient } from "@fly-tunnel-operator/fly"
import { type RunningEmulator, startEmulator } from "@fly-tunnel-operator/fly-emulator"
import { Effect, Fiber, Layer, ManagedRuntime, Redacted } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { AppCreator } from "../src/tunnel/appCreator.ts"

describe("AppCreator (in-process Fly emulator)", () => {
  let fly: RunningEmulator
  let runtime: ManagedRuntime.ManagedRuntime<FlyClient, never>

  beforeAll(async () => {
    fly = await startEmulator({ rateLimits: false })
    // Fly answers a create more slowly than a read: a teardown's look could be answered before the create lands.
    await fly.setLatency({ createApp: { ms: 300 } })
    runtime = ManagedRuntime.make(
      FlyClient.layer({ baseUrl: fly.baseUrl, token: Redacted.make(fly.token) }).pipe(Layer.orDie),
    )
  })
  afterAll(async () => {
    await runtime?.dispose()
    await fly?.close()
  })

  it("forgetting a tunnel whose create is on the wire returns once the create has landed, not before", async () => {
    const landed = await runtime.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const creator = yield* AppCreator.make
          const asking = yield* creator
            .create("default/early", { name: "fto-early", org_slug: "personal", network: "fto-early" })
            .pipe(Effect.forkChild)
          yield* Effect.promise(async () => {
            while (!(await fly.state()).pending.some((call) => call.action === "createApp"))
              await new Promise((resolve) => setTimeout(resolve, 5))
          })
          // What the tunnel's teardown does first: it looks for the App right after.
          yield* creator.forget("default/early")
          const apps = yield* Effect.promise(() => fly.state()).pipe(Effect.map((state) => state.apps))
          yield* Fiber.interrupt(asking)
          return apps.map((app) => app.name)
        }),
      ),
    )
    expect(landed).toEqual(["fto-early"])
  })
})
