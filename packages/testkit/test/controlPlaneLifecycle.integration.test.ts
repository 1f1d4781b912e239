import { existsSync } from "node:fs"
import { readdir, readFile } from "node:fs/promises"
import { CoreV1Api, KubeConfig } from "@kubernetes/client-node"
import { expect, inject, it } from "vitest"
import { startControlPlane } from "../src/controlPlane/controlPlane.ts"

/** Command lines of every live process that mentions `text` (each component's flags name its dir). */
const processesMentioning = async (text: string) => {
  const found: Array<string> = []
  for (const pid of await readdir("/proc")) {
    if (!/^\d+$/.test(pid)) continue
    const cmdline = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "")
    if (cmdline.includes(text)) found.push(cmdline.replaceAll("\0", " "))
  }
  return found
}

it("starts a second, independent control plane and stops it without leftovers", async () => {
  const lines: Array<string> = []
  const controlPlane = await startControlPlane({
    tools: inject("tools"),
    serviceCidr: "10.97.0.0/16",
    log: (line) => lines.push(line),
  })
  let stopped = false
  try {
    expect(controlPlane.server).not.toBe(inject("controlPlane").server)
    expect(lines.some((line) => /^control plane ready in \d+\.\ds/.test(line))).toBe(true)
    const kubeConfig = new KubeConfig()
    kubeConfig.loadFromFile(controlPlane.kubeconfigPath)
    const namespaces = await kubeConfig.makeApiClient(CoreV1Api).listNamespace()
    expect(namespaces.items.map((namespace) => namespace.metadata?.name)).toContain("kube-system")
    expect(await processesMentioning(controlPlane.dir)).toHaveLength(4)

    await controlPlane.stop()
    stopped = true

    expect(await processesMentioning(controlPlane.dir)).toEqual([])
    expect(existsSync(controlPlane.dir)).toBe(false)
    await expect(kubeConfig.makeApiClient(CoreV1Api).listNamespace()).rejects.toThrow()
  } finally {
    if (!stopped) await controlPlane.stop()
  }
})
