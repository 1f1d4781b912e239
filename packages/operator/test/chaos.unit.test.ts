import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { IN_PROCESS_PLAN } from "./chaos/chaosModes.ts"
import { planRun } from "./chaos/chaosPlan.ts"
import { runInProcess } from "./chaos/inProcessChaos.ts"

// A few runs of `pnpm chaos` (in-process) on every test run; the README records the long runs.
describe("chaos, in-process: random sequences under random faults and leader changes", () => {
  for (const seed of [1, 2, 3, 4, 5]) {
    it(`seed ${seed}: no duplicate create, no leak, every live tunnel converges`, { timeout: 120_000 }, async () => {
      const steps = await Effect.runPromise(planRun(seed, IN_PROCESS_PLAN))
      const run = await runInProcess(seed, steps)
      expect(run.faults.length).toBeGreaterThan(0)
      expect({ duplicates: run.duplicates, leaks: run.leaks, unconverged: run.unconverged }).toEqual({
        duplicates: [],
        leaks: [],
        unconverged: [],
      })
    })
  }
})
