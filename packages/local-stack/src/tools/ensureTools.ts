import { access, constants, mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from "node:fs/promises"
import { homedir } from "node:os"
import { join } from "node:path"
import { setTimeout as sleep } from "node:timers/promises"
import { Schema } from "effect"
import { RECIPES, type Recipe } from "./recipes.ts"
import { overrideVariable, type ToolName, ToolPaths, type Tools } from "./toolNames.ts"

const toolsCacheDir = (): string =>
  process.env.FTO_TOOLS_CACHE ?? join(homedir(), ".cache", "fly-tunnel-operator", "tools")

export interface EnsureToolsOptions {
  /** Progress of a cold build (Go output, one line at a time). */
  readonly onProgress?: (line: string) => void
}

const isExecutable = (path: string): Promise<boolean> =>
  access(path, constants.X_OK).then(
    () => true,
    () => false,
  )

const processAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** A directory lock, so parallel test runs build each recipe once; a dead holder's lock is taken over. */
const withLock = async <A>(lockDir: string, body: () => Promise<A>): Promise<A> => {
  for (;;) {
    try {
      await mkdir(lockDir)
      await writeFile(join(lockDir, "pid"), String(process.pid))
      break
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error
      const holder = Number.parseInt(await readFile(join(lockDir, "pid"), "utf8").catch(() => ""), 10)
      const age = await stat(lockDir).then(
        (lock) => Date.now() - lock.mtimeMs,
        () => 0,
      )
      if ((Number.isFinite(holder) && !processAlive(holder)) || (!Number.isFinite(holder) && age > 60_000)) {
        await rm(lockDir, { recursive: true, force: true })
        continue
      }
      await sleep(1_000)
    }
  }
  try {
    return await body()
  } finally {
    await rm(lockDir, { recursive: true, force: true })
  }
}

const recipeBinDir = (recipe: Recipe): string => join(toolsCacheDir(), recipe.key, "bin")

const cached = async (recipe: Recipe): Promise<boolean> =>
  (await Promise.all(recipe.tools.map((tool) => isExecutable(join(recipeBinDir(recipe), tool))))).every(Boolean)

const buildRecipe = async (recipe: Recipe, options: EnsureToolsOptions): Promise<void> => {
  const root = toolsCacheDir()
  await mkdir(root, { recursive: true })
  await withLock(join(root, `${recipe.key}.lock`), async () => {
    if (await cached(recipe)) return
    const progress = options.onProgress ?? (() => {})
    const started = Date.now()
    progress(`building ${recipe.tools.join(", ")} (${recipe.key}) with Go; a cold build takes minutes`)
    const staging = await mkdtemp(join(root, `${recipe.key}.building-`))
    try {
      const binDir = join(staging, "bin")
      const workDir = join(staging, "work")
      await mkdir(binDir)
      await mkdir(workDir)
      await recipe.build({ binDir, workDir, onOutput: progress })
      for (const tool of recipe.tools) {
        if (!(await isExecutable(join(binDir, tool)))) throw new Error(`building ${recipe.key} produced no ${tool}`)
      }
      await rm(workDir, { recursive: true, force: true })
      await rm(join(root, recipe.key), { recursive: true, force: true })
      await rename(staging, join(root, recipe.key))
      progress(`built ${recipe.key} in ${Math.round((Date.now() - started) / 1000)}s`)
    } finally {
      await rm(staging, { recursive: true, force: true })
    }
  })
}

/**
 * Finds every test binary in the cache (keyed by version), building what is missing with Go.
 * `FTO_TOOL_<NAME>` overrides one binary with an existing path.
 */
export const ensureTools = async (options: EnsureToolsOptions = {}): Promise<Tools> => {
  const paths: Partial<Record<ToolName, string>> = {}
  for (const recipe of RECIPES) {
    const missing = recipe.tools.filter((tool) => process.env[overrideVariable(tool)] === undefined)
    if (missing.length > 0 && !(await cached(recipe))) await buildRecipe(recipe, options)
    for (const tool of recipe.tools) {
      const path = process.env[overrideVariable(tool)] ?? join(recipeBinDir(recipe), tool)
      if (!(await isExecutable(path))) {
        throw new Error(`${tool} is not an executable at ${path} (from ${overrideVariable(tool)} or the tools cache)`)
      }
      paths[tool] = path
    }
  }
  return Schema.decodeUnknownSync(ToolPaths)(paths)
}
