import { readdir, readFile } from "node:fs/promises"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { chartDir, repoRoot } from "./chart.ts"

const generated = join(repoRoot, "crds")
const shipped = join(chartDir, "crds")
const syncHint = "run `cp crds/*.yaml charts/fly-tunnel-operator/crds/` (crds/ is generated from packages/api)"

const yamlFiles = (dir: string) =>
  Effect.promise(() => readdir(dir)).pipe(Effect.map((names) => names.filter((name) => name.endsWith(".yaml")).sort()))

describe("chart CRDs", () => {
  it.effect("the chart ships exactly the generated CRDs, byte for byte", () =>
    Effect.gen(function* () {
      const expected = yield* yamlFiles(generated)
      expect(expected, "crds/ holds no CRD yet: generate it from packages/api").toContain(
        "fly-tunnel-operator.dev_flytunnels.yaml",
      )
      expect(yield* yamlFiles(shipped), `the chart's crds/ differ from crds/: ${syncHint}`).toEqual(expected)
      for (const name of expected) {
        const [source, copy] = yield* Effect.promise(() =>
          Promise.all([readFile(join(generated, name), "utf8"), readFile(join(shipped, name), "utf8")]),
        )
        expect(copy === source, `charts/fly-tunnel-operator/crds/${name} is stale: ${syncHint}`).toBe(true)
      }
    }),
  )
})
