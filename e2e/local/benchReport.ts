import { mkdir, readFile, writeFile } from "node:fs/promises"
import { fileURLToPath } from "node:url"

const BENCH_DIR = fileURLToPath(new URL("../../.bench/", import.meta.url))

/** Merges `entry` under `key` into .bench/e2e.json (gitignored), where the e2e suite leaves its measurements. */
export const recordE2eFigures = async (key: string, entry: object): Promise<string> => {
  await mkdir(BENCH_DIR, { recursive: true })
  const path = `${BENCH_DIR}e2e.json`
  const existing = JSON.parse(await readFile(path, "utf8").catch(() => "{}")) as Record<string, unknown>
  await writeFile(
    path,
    `${JSON.stringify({ ...existing, [key]: { ...entry, at: new Date().toISOString() } }, null, 2)}\n`,
  )
  return path
}
