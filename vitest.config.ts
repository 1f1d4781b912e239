import { defineConfig } from "vitest/config"

const tier = (name: string, options: { timeout: number; globalSetup?: Array<string>; serial?: boolean }) => ({
  test: {
    name,
    include: [`packages/*/test/**/*.${name}.test.ts`, `e2e/**/*.${name}.test.ts`],
    testTimeout: options.timeout,
    hookTimeout: options.timeout,
    globalSetup: options.globalSetup ?? [],
    // Files that run real processes (control plane, frps, frpc) go one at a time: two cores, shared ports.
    fileParallelism: options.serial !== true,
  },
})

// One control plane and one tools lookup serve every file of a run (global setups).
export default defineConfig({
  test: {
    reporters: ["default", ["json", { outputFile: ".test-results.json" }]],
    projects: [
      tier("unit", { timeout: 10_000 }),
      tier("contract", { timeout: 120_000, globalSetup: ["packages/testkit/src/vitest/toolsSetup.ts"] }),
      tier("integration", {
        timeout: 300_000,
        serial: true,
        globalSetup: ["packages/testkit/src/vitest/toolsSetup.ts", "packages/testkit/src/vitest/controlPlaneSetup.ts"],
      }),
      tier("e2e", {
        timeout: 600_000,
        serial: true,
        globalSetup: ["packages/testkit/src/vitest/toolsSetup.ts", "packages/testkit/src/vitest/controlPlaneSetup.ts"],
      }),
      // The release on a kind cluster (Docker engine needed): where none answers, one line says so and nothing runs.
      tier("kind", { timeout: 1_800_000, serial: true, globalSetup: ["e2e/kind/dockerEngineSetup.ts"] }),
    ],
  },
})
