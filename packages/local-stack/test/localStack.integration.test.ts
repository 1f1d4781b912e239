import { execFileSync } from "node:child_process"
import { existsSync, readdirSync, readFileSync } from "node:fs"
import { dirname } from "node:path"
import { describe, expect, inject, it } from "vitest"
import { startLocalStack } from "../src/localStack/localStack.ts"

const tools = inject("tools")

/** Processes whose command line mentions `text`, read from /proc. */
const processesMentioning = (text: string) =>
  readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(text)
      } catch {
        return false
      }
    })

describe("local stack", () => {
  it("starts a control plane, service network, Fly emulator and node agent; stop leaves no process, namespace or dir", async () => {
    const stack = await startLocalStack({ tools })
    const dirs = [stack.controlPlane.dir, dirname(stack.flyApiTokenFile)]
    const namespace = stack.serviceNetwork.namespace
    try {
      expect(stack.serviceNetwork.serviceCidr).not.toBe("10.96.0.0/16")
      const nodes = execFileSync(tools.kubectl, ["--kubeconfig", stack.controlPlane.kubeconfigPath, "get", "nodes"], {
        encoding: "utf8",
      })
      expect(nodes).toContain(stack.nodeAgent.nodeName)
      expect((await fetch(`${stack.emulator.baseUrl}/_emulator/state`)).status).toBe(200)
      expect(readFileSync(stack.flyApiTokenFile, "utf8")).toBe(stack.emulator.token)
      expect(processesMentioning(stack.controlPlane.dir).length).toBeGreaterThanOrEqual(4)
    } finally {
      await stack.stop()
    }
    expect(processesMentioning(stack.controlPlane.dir)).toEqual([])
    for (const dir of dirs) expect(existsSync(dir), dir).toBe(false)
    const namespaces = execFileSync("ip", ["netns", "list"], { encoding: "utf8" })
    expect(namespaces).not.toContain(namespace)
    expect(namespaces).not.toContain(`fto-emu-${process.pid}-`)
  })
})
