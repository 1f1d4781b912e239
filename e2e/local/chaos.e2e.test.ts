import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest"
import { LOCAL_STACK_PLAN } from "../../packages/operator/test/chaos/chaosModes.ts"
import { planRun } from "../../packages/operator/test/chaos/chaosPlan.ts"
import { type LocalStackChaos, openLocalStackChaos } from "../../packages/operator/test/chaos/localStackChaos.ts"

const tools = inject("tools")
const controlPlane = inject("controlPlane")
let chaos: LocalStackChaos

beforeAll(async () => {
  chaos = await openLocalStackChaos({ tools, controlPlane })
})
afterAll(() => chaos?.close())

// One run of `pnpm chaos --mode local-stack` on every test run; the README records the long runs.
describe("chaos on the local stack: real frp, kill -9 and graceful leader changes", () => {
  it("seed 1: no duplicate create, no leak, every live tunnel converges", async () => {
    const steps = await Effect.runPromise(planRun(1, LOCAL_STACK_PLAN))
    const run = await chaos.run(1, steps)
    expect({ duplicates: run.duplicates, leaks: run.leaks, unconverged: run.unconverged }).toEqual({
      duplicates: [],
      leaks: [],
      unconverged: [],
    })
  })
})
