import { spawn } from "node:child_process"
import { describe, expect, it } from "vitest"
import { busiestOthers, cpuSnapshot, descendantsNamed, mainThreadSeconds, usedSeconds } from "./processCpu.ts"

describe("processCpu", () => {
  it("counts this process's CPU between two snapshots, main thread included", async () => {
    const before = await cpuSnapshot()
    const mainBefore = await mainThreadSeconds(process.pid)
    const started = process.cpuUsage()
    // Burn at least 50 ms of CPU (5 ticks), whatever the machine's load.
    while (process.cpuUsage(started).user < 50_000) Math.sqrt(Math.random())
    const after = await cpuSnapshot()
    expect(usedSeconds(before, after, process.pid)).toBeGreaterThan(0)
    expect(await mainThreadSeconds(process.pid)).toBeGreaterThan(mainBefore)
    expect(busiestOthers(before, after, new Set([process.pid]), 3).map((other) => other.pid)).not.toContain(process.pid)
  })

  it("finds a child process by its executable's name", async () => {
    const child = spawn("sleep", ["30"])
    try {
      await new Promise((resolve) => child.once("spawn", resolve))
      const found = await descendantsNamed(await cpuSnapshot(), process.pid, "sleep")
      expect(found).toContain(child.pid)
      expect(await descendantsNamed(await cpuSnapshot(), process.pid, "no-such-binary")).toEqual([])
    } finally {
      child.kill("SIGKILL")
    }
  })
})
