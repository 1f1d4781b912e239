import type { PathFigures } from "./dataPath.ts"

const MIB = 1024 * 1024

export interface CpuCeiling {
  /**
   * CPU milliseconds each process on the path spent per MiB echoed back, net of what it spends at rest (its
   * background, measured in the second before the transfer); `backgroundCores` is that background.
   */
  readonly msPerMiB: ReadonlyArray<{ readonly role: string; readonly ms: number; readonly backgroundCores: number }>
  readonly totalMsPerMiB: number
  /** What the machine's cores allow: cores ÷ the CPU time the path's processes need per MiB, in MiB/s. */
  readonly ceiling: number
  /** measured ÷ ceiling: the share of all cores the path's work kept busy. */
  readonly used: number
  /**
   * The tightest bound a one-thread process sets: the share of one core its main thread has left beside its own
   * background, ÷ its main thread's CPU per MiB; and which process that is.
   */
  readonly oneThread: { readonly role: string; readonly bound: number } | undefined
  /** The whole machine's busy time over the transfer, in cores (the path's processes and anything else running). */
  readonly machineBusyCores: number
}

/**
 * The throughput ceiling of a path on `cores` cores from the CPU its processes used while moving the measured bytes:
 * if every core did nothing but this path's work, it could move at most cores ÷ Σ(CPU seconds per MiB).
 */
export const cpuCeiling = (path: PathFigures, cores: number): CpuCeiling => {
  const mib = path.throughput.bytes / MIB
  const wall = path.throughput.seconds
  const net = (seconds: number, backgroundCores: number) => Math.max(0, seconds - backgroundCores * wall)
  const msPerMiB = path.cpu.processes.map((process) => ({
    role: process.role,
    ms: (net(process.seconds, process.backgroundCores) * 1000) / mib,
    backgroundCores: process.backgroundCores,
  }))
  const totalMsPerMiB = msPerMiB.reduce((total, process) => total + process.ms, 0)
  const ceiling = totalMsPerMiB > 0 ? (cores * 1000) / totalMsPerMiB : Number.POSITIVE_INFINITY
  const oneThread = path.cpu.processes
    .flatMap((process) => {
      const main = process.mainThread
      if (main === undefined) return []
      const msPerMiBMain = (net(main.seconds, main.backgroundCores) * 1000) / mib
      return msPerMiBMain > 0
        ? [{ role: process.role, bound: (Math.max(0, 1 - main.backgroundCores) * 1000) / msPerMiBMain }]
        : []
    })
    .reduce<{ role: string; bound: number } | undefined>(
      (tightest, process) => (tightest === undefined || process.bound < tightest.bound ? process : tightest),
      undefined,
    )
  return {
    msPerMiB,
    totalMsPerMiB,
    ceiling,
    used: path.throughput.mbPerSecond / ceiling,
    oneThread,
    machineBusyCores: path.cpu.machineBusySeconds / wall,
  }
}

/** With the processes whose role matches taken off the path (their CPU spent elsewhere), what the cores allow. */
export const ceilingWithout = (ceiling: CpuCeiling, cores: number, role: (name: string) => boolean) => {
  const rest = ceiling.msPerMiB.filter((process) => !role(process.role)).reduce((total, p) => total + p.ms, 0)
  return rest > 0 ? (cores * 1000) / rest : Number.POSITIVE_INFINITY
}
