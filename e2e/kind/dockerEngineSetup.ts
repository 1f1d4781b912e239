import { ensureTools } from "@fly-tunnel-operator/local-stack"
import type { TestProject } from "vitest/node"
import { dockerEngineUnavailable } from "./dockerEngine.ts"
import "../../packages/testkit/src/vitest/toolsSetup.ts"

declare module "vitest" {
  export interface ProvidedContext {
    /** Why the kind tier is not run on this machine; absent when a Docker engine answers. */
    kindNotRun?: string
  }
}

/** Set where a Docker engine must answer (GitHub's CI): there the kind tier may not skip. */
const REQUIRE_KIND = "FTO_REQUIRE_KIND"

/**
 * The kind tier's one decision, made once per run: run (and then find or build the real binaries it needs, helm and
 * kubectl), or say in one line why not. It is the only tier allowed to skip, and not where `FTO_REQUIRE_KIND=1`.
 */
export default async function setup(project: TestProject): Promise<void> {
  const why = await dockerEngineUnavailable()
  project.provide("kindNotRun", why)
  if (why !== undefined && process.env[REQUIRE_KIND] === "1")
    throw new Error(`kind tier required (${REQUIRE_KIND}=1) but cannot run: ${why}`)
  if (why !== undefined) {
    process.stderr.write(`kind tier not run: ${why}\n`)
    return
  }
  project.provide("tools", await ensureTools({ onProgress: (line) => process.stderr.write(`[tools] ${line}\n`) }))
}
