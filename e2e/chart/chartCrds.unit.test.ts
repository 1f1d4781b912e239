import { readdir, readFile } from "node:fs/promises"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { CHART_CRD_PATH, CRD_PATH } from "@fly-tunnel-operator/api"
import { Effect } from "effect"
import { chartDir, repoRoot } from "./chart.ts"

const generated = join(repoRoot, "crds")
const chartCopy = join(repoRoot, CHART_CRD_PATH, "..")
const syncHint = "run `node packages/api/src/crdWrite.ts` (it writes crds/ and the chart's files/crds/)"

const yamlFiles = (dir: string) =>
  Effect.promise(() => readdir(dir)).pipe(Effect.map((names) => names.filter((name) => name.endsWith(".yaml")).sort()))

describe("chart CRDs", () => {
  it.effect("the chart's CRD template renders exactly the generated CRDs, copied byte for byte", () =>
    Effect.gen(function* () {
      const expected = yield* yamlFiles(generated)
      expect(expected, "crds/ holds no CRD yet: generate it from packages/api").toEqual([CRD_PATH.replace("crds/", "")])
      expect(yield* yamlFiles(chartCopy), `the chart's files/crds/ differ from crds/: ${syncHint}`).toEqual(expected)
      for (const name of expected) {
        const [source, copy] = yield* Effect.promise(() =>
          Promise.all([readFile(join(generated, name), "utf8"), readFile(join(chartCopy, name), "utf8")]),
        )
        expect(copy === source, `${CHART_CRD_PATH} is stale: ${syncHint}`).toBe(true)
      }
    }),
  )

  it.effect("the chart has no crds/ directory: Helm would install it once and never upgrade it", () =>
    Effect.gen(function* () {
      const entries = yield* Effect.promise(() => readdir(chartDir))
      expect(entries).not.toContain("crds")
      const template = yield* Effect.promise(() => readFile(join(chartDir, "templates", "crds.yaml"), "utf8"))
      expect(template).toContain('.Files.Glob "files/crds/*.yaml"')
    }),
  )
})
