import { ensureTools, startControlPlane } from "@fly-tunnel-operator/local-stack"
import type { TestProject } from "vitest/node"
import "./controlPlaneContext.ts"

/**
 * Starts one local control plane per test run (after toolsSetup) and hands its address to the
 * tests as `inject("controlPlane")`. FTO_CONTROL_PLANE_LOG=1 echoes the components' output.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const tools = project.getProvidedContext().tools ?? (await ensureTools())
  const log = (line: string) => process.stderr.write(`[control-plane] ${line}\n`)
  const controlPlane = await startControlPlane({
    tools,
    log,
    ...(process.env.FTO_CONTROL_PLANE_LOG === "1" ? { componentLog: log } : {}),
  })
  project.provide("controlPlane", {
    kubeconfigPath: controlPlane.kubeconfigPath,
    server: controlPlane.server,
    caPem: controlPlane.caPem,
    serviceCidr: controlPlane.serviceCidr,
    dir: controlPlane.dir,
  })
  return () => controlPlane.stop()
}
