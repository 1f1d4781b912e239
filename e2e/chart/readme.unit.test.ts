import { readFile } from "node:fs/promises"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Annotations, ConditionTypes, Reasons } from "@fly-tunnel-operator/api"
import { loadYaml } from "@kubernetes/client-node"
import { Effect } from "effect"
import { chartDir, repoRoot } from "./chart.ts"

const readme = Effect.promise(() => readFile(join(repoRoot, "README.md"), "utf8"))

/** Dotted paths of every leaf in values.yaml (an empty map or list is a leaf). */
const leafPaths = (value: unknown, prefix = ""): ReadonlyArray<string> =>
  value !== null && typeof value === "object" && !Array.isArray(value) && Object.keys(value).length > 0
    ? Object.entries(value).flatMap(([key, child]) => leafPaths(child, prefix === "" ? key : `${prefix}.${key}`))
    : [prefix]

/** A leaf is documented when it, or an enclosing value (e.g. `resources`), has its own `code` mention. */
const documented = (text: string, path: string) =>
  path
    .split(".")
    .map((_, index, parts) => parts.slice(0, index + 1).join("."))
    .some((candidate) => text.includes(`\`${candidate}\``))

describe("README", () => {
  it.effect("documents every chart value", () =>
    Effect.gen(function* () {
      const text = yield* readme
      const values = loadYaml(yield* Effect.promise(() => readFile(join(chartDir, "values.yaml"), "utf8")))
      const paths = leafPaths(values)
      expect(paths.length).toBeGreaterThan(30)
      expect(paths.filter((path) => !documented(text, path))).toEqual([])
    }),
  )

  it.effect("documents every Service annotation, condition and reason", () =>
    Effect.gen(function* () {
      const text = yield* readme
      const missing = [...Object.values(Annotations), ...ConditionTypes, ...Object.values(Reasons)].filter(
        (name) => !text.includes(`\`${name}\``),
      )
      expect(missing).toEqual([])
    }),
  )

  it.effect("keeps the two set-up commands and the timings placeholder", () =>
    Effect.gen(function* () {
      const text = yield* readme
      expect(text).toContain("./dev start ")
      expect(text).toContain("./dev test ")
      expect(text).toContain("<!-- dev-timings -->")
      // CI runs exactly the README's test command.
      const ci = yield* Effect.promise(() => readFile(join(repoRoot, ".ci/run"), "utf8"))
      expect(ci).toMatch(/^\.\/dev test\b/m)
    }),
  )

  it.effect("the quick start installs the published chart from the registry the default image comes from", () =>
    Effect.gen(function* () {
      const text = yield* readme
      const values = loadYaml(yield* Effect.promise(() => readFile(join(chartDir, "values.yaml"), "utf8"))) as {
        readonly image: { readonly repository: string }
      }
      const owner = /^ghcr\.io\/([^/]+)\/fly-tunnel-operator$/.exec(values.image.repository)?.[1]
      expect(owner, "the default image lives on ghcr.io/<owner>/fly-tunnel-operator").toBeDefined()
      expect(text).toContain(`helm install fly-tunnel-operator oci://ghcr.io/${owner}/charts/fly-tunnel-operator`)
      // …and how to run an image built here instead.
      expect(text).toContain("docker build")
      expect(text).toContain("--set image.repository=")
      const release = yield* Effect.promise(() => readFile(join(repoRoot, ".github/workflows/release.yml"), "utf8"))
      expect(release).toContain('echo "charts=oci://$REGISTRY/$owner/charts" >> "$GITHUB_OUTPUT"')
      expect(release).toContain('echo "image=$REGISTRY/$owner/fly-tunnel-operator" >> "$GITHUB_OUTPUT"')
    }),
  )
})
