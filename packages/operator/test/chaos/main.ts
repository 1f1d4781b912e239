// `pnpm chaos [--mode in-process|local-stack] [--runs N] [--seed S]`: N runs with seeds S, S+1, …; writes
// .bench/chaos.json and exits 1 if any run found a duplicate, a leak or a tunnel that did not converge.
import { parseArgs } from "node:util"
import { Effect } from "effect"
import { IN_PROCESS_PLAN, LOCAL_STACK_PLAN } from "./chaosModes.ts"
import { type ChaosPlanOptions, planRun } from "./chaosPlan.ts"
import { type ChaosMode, type ChaosRunResult, failed, writeChaosReport } from "./chaosReport.ts"
import { runInProcess } from "./inProcessChaos.ts"

const { values } = parseArgs({
  options: {
    mode: { type: "string", default: "in-process" },
    runs: { type: "string", default: "20" },
    seed: { type: "string", default: String(Date.now() % 1_000_000) },
    steps: { type: "string" },
  },
})
const mode = values.mode as ChaosMode
if (mode !== "in-process" && mode !== "local-stack") {
  process.stderr.write(`--mode must be in-process or local-stack, not ${values.mode}\n`)
  process.exit(2)
}
const runs = Number(values.runs)
const firstSeed = Number(values.seed)

const PLANS: Record<ChaosMode, ChaosPlanOptions> = { "in-process": IN_PROCESS_PLAN, "local-stack": LOCAL_STACK_PLAN }

const local =
  mode === "local-stack"
    ? await (async () => {
        const { ensureTools } = await import("@fly-tunnel-operator/local-stack")
        const { openLocalStackChaos } = await import("./localStackChaos.ts")
        return openLocalStackChaos({ tools: await ensureTools({}) })
      })()
    : undefined
const results: Array<ChaosRunResult> = []
for (let seed = firstSeed; seed < firstSeed + runs; seed++) {
  const plan = { ...PLANS[mode], ...(values.steps ? { steps: Number(values.steps) } : {}) }
  const steps = await Effect.runPromise(planRun(seed, plan))
  const run = local === undefined ? await runInProcess(seed, steps) : await local.run(seed, steps)
  results.push(run)
  const problems = [...run.duplicates, ...run.leaks, ...run.unconverged]
  process.stdout.write(
    `${failed(run) ? "FAIL" : "ok  "} seed ${seed}: ${run.steps} steps, ${run.faults.length} faults, ${(run.ms / 1000).toFixed(1)} s${problems.length > 0 ? `\n  ${problems.join("\n  ")}\n  reproduce: pnpm chaos --mode ${mode} --runs 1 --seed ${seed}` : ""}\n`,
  )
}
await local?.close()
const report = await writeChaosReport(mode, results)
const failures = results.filter(failed)
process.stdout.write(
  `${results.length} ${mode} runs (seeds ${firstSeed}–${firstSeed + runs - 1}): ${results.reduce((sum, run) => sum + run.duplicates.length, 0)} duplicates, ${results.reduce((sum, run) => sum + run.leaks.length, 0)} leaks, ${failures.length} failed runs; report: ${report}\n`,
)
process.exit(failures.length > 0 ? 1 : 0)
