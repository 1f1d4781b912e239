import { mkdir, readFile, writeFile } from "node:fs/promises"
import { dirname } from "node:path"
import { fileURLToPath } from "node:url"

export type ChaosMode = "in-process" | "local-stack"

/** One run: its seed reproduces its sequence (`pnpm chaos --mode <mode> --seed <seed> --runs 1`). */
export interface ChaosRunResult {
  readonly seed: number
  readonly mode: ChaosMode
  readonly steps: number
  /** The faults injected, e.g. "status 503 on createMachine". */
  readonly faults: ReadonlyArray<string>
  /** Creates applied more often than asked for. */
  readonly duplicates: ReadonlyArray<string>
  /** What remained on Fly or in the cluster after the last delete. */
  readonly leaks: ReadonlyArray<string>
  /** Live tunnels that did not reach their wanted state once Fly answered again. */
  readonly unconverged: ReadonlyArray<string>
  readonly ms: number
}

export const failed = (run: ChaosRunResult) => run.duplicates.length + run.leaks.length + run.unconverged.length > 0

const REPORT = fileURLToPath(new URL("../../../../.bench/chaos.json", import.meta.url))

/** Writes the runs of one mode into .bench/chaos.json (the other mode's stay), with totals. */
export const writeChaosReport = async (mode: ChaosMode, runs: ReadonlyArray<ChaosRunResult>): Promise<string> => {
  await mkdir(dirname(REPORT), { recursive: true })
  const existing = JSON.parse(await readFile(REPORT, "utf8").catch(() => "{}")) as Record<string, unknown>
  const summary = {
    at: new Date().toISOString(),
    runs: runs.length,
    seeds: runs.map((run) => run.seed),
    faultsInjected: runs.reduce((sum, run) => sum + run.faults.length, 0),
    duplicates: runs.reduce((sum, run) => sum + run.duplicates.length, 0),
    leaks: runs.reduce((sum, run) => sum + run.leaks.length, 0),
    unconverged: runs.reduce((sum, run) => sum + run.unconverged.length, 0),
    failedSeeds: runs.filter(failed).map((run) => run.seed),
    seconds: Math.round(runs.reduce((sum, run) => sum + run.ms, 0) / 1000),
    details: runs,
  }
  await writeFile(REPORT, `${JSON.stringify({ ...existing, [mode]: summary }, null, 2)}\n`)
  return REPORT
}
