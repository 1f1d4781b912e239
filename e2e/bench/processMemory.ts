import { readFile } from "node:fs/promises"

/** Resident set size of a process in MiB, from /proc/<pid>/status (VmRSS). */
export const residentMiB = async (pid: number): Promise<number> => {
  const status = await readFile(`/proc/${pid}/status`, "utf8")
  const kib = Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1])
  if (!Number.isFinite(kib)) throw new Error(`no VmRSS for pid ${pid}`)
  return kib / 1024
}

/** CPU time a process has used so far (user + system), in seconds, from /proc/<pid>/stat (in clock ticks of 10 ms). */
export const cpuSeconds = async (pid: number): Promise<number> => {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8")
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  return (Number(fields[11]) + Number(fields[12])) / 100
}
