import { readFile } from "node:fs/promises"

/** Resident set size of a process in MiB, from /proc/<pid>/status (VmRSS). */
export const residentMiB = async (pid: number): Promise<number> => {
  const status = await readFile(`/proc/${pid}/status`, "utf8")
  const kib = Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1])
  if (!Number.isFinite(kib)) throw new Error(`no VmRSS for pid ${pid}`)
  return kib / 1024
}
