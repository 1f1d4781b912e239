import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { ACTIONLINT_VERSION } from "@fly-tunnel-operator/local-stack"
import { Effect } from "effect"
import { repoRoot, toolsOrFail } from "../chart/chart.ts"
import { runCommand } from "../chart/command.ts"

const actionlint = toolsOrFail().actionlint
const workflowsDir = join(repoRoot, ".github", "workflows")

/**
 * actionlint over `dir`'s workflows, from `cwd` (it looks for .github/workflows there). shellcheck and pyflakes
 * integrations are off so the result does not depend on what else this machine has installed.
 */
const lint = (cwd: string, files: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const result = yield* runCommand("/usr/bin/env", [
      "-C",
      cwd,
      actionlint,
      "-no-color",
      "-shellcheck=",
      "-pyflakes=",
      ...files,
    ]).pipe(Effect.orDie)
    return result
  })

describe("GitHub workflows", () => {
  it.effect("actionlint is the pinned version", () =>
    Effect.gen(function* () {
      const result = yield* runCommand(actionlint, ["-version"]).pipe(Effect.orDie)
      expect(result.stdout.split("\n")[0]).toBe(ACTIONLINT_VERSION)
    }),
  )

  it.effect("every workflow in .github/workflows passes actionlint with no finding", () =>
    Effect.gen(function* () {
      const files = (yield* Effect.promise(() => readdir(workflowsDir))).filter((name) => /\.ya?ml$/.test(name)).sort()
      expect(files).toEqual(["ci.yml", "release.yml"])
      const result = yield* lint(
        repoRoot,
        files.map((name) => join(".github", "workflows", name)),
      )
      expect(result.stdout + result.stderr).toBe("")
      expect(result.exitCode).toBe(0)
    }),
  )

  it.effect("a workflow with a mistake is reported (the check can fail)", () =>
    Effect.acquireUseRelease(
      Effect.promise(() => mkdtemp(join(tmpdir(), "fto-actionlint-"))),
      (dir) =>
        Effect.gen(function* () {
          yield* Effect.promise(() => mkdir(join(dir, ".github", "workflows"), { recursive: true }))
          const broken = [
            "on: push",
            "jobs:",
            "  test:",
            "    runs-on: ubuntu-24.04",
            "    steps:",
            `      - run: echo $${"{{"} steps.missing.outputs.value }}`,
            "",
          ].join("\n")
          yield* Effect.promise(() => writeFile(join(dir, ".github", "workflows", "broken.yml"), broken))
          const result = yield* lint(dir, [join(".github", "workflows", "broken.yml")])
          expect(result.exitCode).not.toBe(0)
          expect(result.stdout).toContain('property "missing" is not defined')
        }),
      (dir) => Effect.promise(() => rm(dir, { recursive: true, force: true })),
    ),
  )
})
