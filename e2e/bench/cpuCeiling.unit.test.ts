import { describe, expect, it } from "vitest"
import { ceilingWithout, cpuCeiling } from "./cpuCeiling.ts"
import type { PathFigures } from "./dataPath.ts"

const MIB = 1024 * 1024

/** 100 MiB in 1 s; the load generator and the proxy one-thread processes, frps not. */
const path = (processes: PathFigures["cpu"]["processes"]): PathFigures => ({
  path: "test",
  kind: "tunnel",
  roundTrip: { count: 1, p50Ms: 0, p99Ms: 0 },
  connect: { count: 1, p50Ms: 0, p99Ms: 0 },
  throughput: { bytes: 100 * MIB, seconds: 1, mbPerSecond: 100 },
  cpu: { processes, machineBusySeconds: 1.5, others: [] },
})

describe("cpuCeiling", () => {
  it("is the cores over the CPU the path's processes need per MiB", () => {
    const ceiling = cpuCeiling(
      path([
        { role: "load", seconds: 0.2, backgroundCores: 0, mainThread: { seconds: 0.2, backgroundCores: 0 } },
        { role: "frps", seconds: 0.3, backgroundCores: 0 },
        { role: "proxy", seconds: 0.5, backgroundCores: 0, mainThread: { seconds: 0.4, backgroundCores: 0 } },
      ]),
      2,
    )
    expect(ceiling.msPerMiB.map((process) => process.ms)).toEqual([2, 3, 5])
    expect(ceiling.totalMsPerMiB).toBe(10)
    expect(ceiling.ceiling).toBe(200)
    expect(ceiling.used).toBe(0.5)
    expect(ceiling.machineBusyCores).toBe(1.5)
    // The proxy's main thread needs 4 ms a MiB: one core moves 250 MiB/s; the load generator's 2 ms, 500.
    expect(ceiling.oneThread).toEqual({ role: "proxy", bound: 250 })
    expect(ceilingWithout(ceiling, 2, (role) => role === "proxy")).toBe(400)
  })

  it("takes what a process spends at rest off its share of the path", () => {
    const ceiling = cpuCeiling(
      path([
        { role: "proxy", seconds: 0.6, backgroundCores: 0.2, mainThread: { seconds: 0.5, backgroundCores: 0.2 } },
        { role: "frps", seconds: 0.4, backgroundCores: 0.5 },
      ]),
      2,
    )
    // 0.6 − 0.2 × 1 s = 0.4 s for 100 MiB; frps's background exceeds what it used: nothing is the path's.
    const [proxy, frps] = ceiling.msPerMiB
    expect(proxy?.ms).toBeCloseTo(4)
    expect(frps?.ms).toBe(0)
    expect(ceiling.ceiling).toBeCloseTo(500)
    // Its main thread has 0.8 of a core left and needs 3 ms a MiB.
    expect(ceiling.oneThread?.bound).toBeCloseTo(800 / 3)
  })
})
