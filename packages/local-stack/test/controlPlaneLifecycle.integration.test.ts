import { spawnSync } from "node:child_process"
import { existsSync } from "node:fs"
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { CoreV1Api, KubeConfig } from "@kubernetes/client-node"
import { Effect } from "effect"
import { describe, expect, inject, it } from "vitest"
import { LocalControlPlane, startControlPlane } from "../src/controlPlane/controlPlane.ts"

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

const withParentDir = async (body: (parentDir: string) => Promise<void>) => {
  const parentDir = await mkdtemp(join(tmpdir(), "fto-control-plane-test-"))
  try {
    await body(parentDir)
  } finally {
    await rm(parentDir, { recursive: true, force: true })
  }
}

/** A work dir as a control plane makes it, owned by `pid`. */
const fakeWorkDir = async (parentDir: string, name: string, pid: number) => {
  await mkdir(join(parentDir, name))
  await writeFile(join(parentDir, name, "owner.pid"), String(pid))
}

describe("control plane lifecycle", () => {
  it("starts a second, independent control plane and stops it without leftovers", () =>
    withParentDir(async (parentDir) => {
      const deadPid = spawnSync("true").pid
      await fakeWorkDir(parentDir, "fto-control-plane-abandoned", deadPid)
      await fakeWorkDir(parentDir, "fto-control-plane-in-use", process.pid)
      const lines: Array<string> = []
      const controlPlane = await startControlPlane({
        tools: inject("tools"),
        serviceCidr: "10.97.0.0/16",
        parentDir,
        log: (line) => lines.push(line),
      })
      let stopped = false
      try {
        expect(controlPlane.server).not.toBe(inject("controlPlane").server)
        expect((await readdir(parentDir)).sort()).toEqual(
          ["fto-control-plane-in-use", controlPlane.dir.slice(parentDir.length + 1)].sort(),
        )
        expect(lines.some((line) => /^control plane ready in \d+\.\ds/.test(line))).toBe(true)
        const kubeConfig = new KubeConfig()
        kubeConfig.loadFromFile(controlPlane.kubeconfigPath)
        const namespaces = await kubeConfig.makeApiClient(CoreV1Api).listNamespace()
        expect(namespaces.items.map((namespace) => namespace.metadata?.name)).toContain("kube-system")
        expect(await processesMentioning(controlPlane.dir)).toHaveLength(4)

        await controlPlane.stop()
        stopped = true

        expect(await processesMentioning(parentDir)).toEqual([])
        expect(existsSync(controlPlane.dir)).toBe(false)
        await expect(kubeConfig.makeApiClient(CoreV1Api).listNamespace()).rejects.toThrow()
        expect(lines.filter((line) => line.includes("exited"))).toEqual([])
      } finally {
        if (!stopped) await controlPlane.stop()
      }
    }))

  it("fails its layer with the broken component's output and leaves nothing behind", () =>
    withParentDir(async (parentDir) => {
      const tools = inject("tools")
      const layer = LocalControlPlane.layer({ tools: { ...tools, "kube-apiserver": tools.kubectl }, parentDir })
      const error = await Effect.runPromise(
        Effect.gen(function* () {
          yield* LocalControlPlane
        }).pipe(Effect.provide(layer), Effect.flip),
      )
      expect(error._tag).toBe("ControlPlaneError")
      // kubectl does not know apiserver flags: it exits at once, naming the first one.
      expect(error.message).toMatch(/kube-apiserver exited \(code 1\)[\s\S]*unknown flag/)
      expect(await processesMentioning(parentDir)).toEqual([])
      expect(await readdir(parentDir)).toEqual([])
    }))
})
