import type { Tools } from "@fly-tunnel-operator/local-stack"
import { ensureTools } from "@fly-tunnel-operator/local-stack"
import type { TestProject } from "vitest/node"

declare module "vitest" {
  export interface ProvidedContext {
    tools: Tools
  }
}

/** Finds or builds the real binaries once per run; a missing Go or a failed build fails the run. */
export default async function setup(project: TestProject): Promise<void> {
  const tools = await ensureTools({ onProgress: (line) => process.stderr.write(`[tools] ${line}\n`) })
  project.provide("tools", tools)
}
