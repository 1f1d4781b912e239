import { FlyClient, type MachineConfig } from "@fly-tunnel-operator/fly"
import { type RunningEmulator, startEmulator } from "@fly-tunnel-operator/fly-emulator"
import { Effect, Fiber, Layer, ManagedRuntime, Redacted, Stream } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { FlyProgress } from "../src/tunnel/flyProgress.ts"

const checked = (port: number): MachineConfig => ({
  image: "frps",
  services: [
    {
      protocol: "tcp" as const,
      internal_port: port,
      ports: [{ port }],
      checks: [{ type: "tcp", port, interval: "1s", timeout: "1s", grace_period: "500ms" }],
    },
  ],
})

describe("FlyProgress (in-process Fly emulator)", () => {
  let fly: RunningEmulator
  let runtime: ManagedRuntime.ManagedRuntime<FlyClient, never>

  beforeAll(async () => {
    fly = await startEmulator({ rateLimits: false })
    runtime = ManagedRuntime.make(
      FlyClient.layer({ baseUrl: fly.baseUrl, token: Redacted.make(fly.token) }).pipe(Layer.orDie),
    )
  })
  afterAll(async () => {
    await runtime?.dispose()
    await fly?.close()
  })

  it("wakes a tunnel when one of the Machines it waits on passes its checks, while another still fails", async () => {
    const [first, second] = await runtime.runPromise(
      FlyClient.use((client) =>
        Effect.gen(function* () {
          yield* client.createApp({ name: "progress", org_slug: "personal" })
          return yield* Effect.all([
            client.createMachine("progress", { region: "ord", config: checked(8080) }),
            client.createMachine("progress", { region: "ams", config: checked(8080) }),
          ])
        }),
      ),
    )
    await fly.markChecks({ status: "critical", app: "progress" })
    const woken = await runtime.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const progress = yield* FlyProgress.make
          const { changes } = yield* progress.source.subscribe
          const next = yield* Stream.runHead(changes).pipe(Effect.forkChild)
          yield* progress.awaitChecks("default/progress", "progress", [
            { id: first.id, ports: [8080] },
            { id: second.id, ports: [8080] },
          ])
          // The second stays critical: it is the one an outdated Machine would be, waiting for the tunnel's next step.
          yield* Effect.promise(() => fly.markChecks({ status: "passing", machine_id: first.id }))
          return yield* Fiber.join(next).pipe(Effect.timeout("10 seconds"))
        }),
      ),
    )
    expect(woken._tag === "Some" ? woken.value : undefined).toBe("default/progress")
  })
})
