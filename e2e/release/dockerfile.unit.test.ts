import { readFile } from "node:fs/promises"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { repoRoot } from "../chart/chart.ts"

const dockerfile = Effect.promise(() => readFile(join(repoRoot, "Dockerfile"), "utf8"))
const fromLines = (text: string) => text.split("\n").filter((line) => /^FROM\s/i.test(line))

describe("Dockerfile", () => {
  it.effect("every base image is pinned by a digest, and the file says how to refresh one", () =>
    Effect.gen(function* () {
      const text = yield* dockerfile
      const froms = fromLines(text)
      expect(froms).toHaveLength(2)
      for (const line of froms) expect(line, line).toMatch(/\S+:\S+@sha256:[a-f0-9]{64}(\s|$)/)
      expect(text).toContain("docker buildx imagetools inspect")
    }),
  )

  it.effect("the image runs the file `pnpm bundle` writes, as a non-root user, with no shell", () =>
    Effect.gen(function* () {
      const text = yield* dockerfile
      const rootPackage = JSON.parse(yield* Effect.promise(() => readFile(join(repoRoot, "package.json"), "utf8")))
      expect(rootPackage.scripts.bundle).toBe("node packages/operator/src/build/bundle.ts")
      expect(text).toMatch(/^RUN pnpm run bundle && test -s dist\/operator\.mjs$/m)
      expect(text).toMatch(/^COPY --from=build \/src\/dist\/operator\.mjs \/app\/operator\.mjs$/m)
      // The node options between the two are the bundle contract test's to check.
      expect(text).toMatch(/^ENTRYPOINT \["\/nodejs\/bin\/node", (?:"--[^"]+", )*"\/app\/operator\.mjs"\]$/m)
      expect(text).toMatch(/^USER 65532:65532$/m)
      expect(fromLines(text)[1]).toContain("distroless")
    }),
  )
})
