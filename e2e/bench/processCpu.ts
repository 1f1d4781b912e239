import { readdir, readFile, readlink } from "node:fs/promises"
import { basename } from "node:path"

/** Clock ticks a second of /proc's CPU times (USER_HZ, 100 on every Linux Node runs on). */
const TICKS = 100

interface ProcessTicks {
  /** The executable's name as the kernel knows it (15 characters at most). */
  readonly comm: string
  readonly ppid: number
  /** utime + stime, every thread of the process. */
  readonly ticks: number
}

/** Every process's CPU time at one instant, and the machine's busy time (all cores) from /proc/stat. */
export interface CpuSnapshot {
  readonly processes: ReadonlyMap<number, ProcessTicks>
  readonly machineBusyTicks: number
}

/** One `/proc/…/stat` line (a process's or a thread's); the name is in parentheses and may hold spaces. */
const parseStat = (stat: string): ProcessTicks => {
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  return {
    comm: stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")),
    ppid: Number(fields[1]),
    ticks: Number(fields[11]) + Number(fields[12]),
  }
}

/** A process's or thread's stat, or undefined once it is gone. */
const readStat = async (path: string) => {
  const stat = await readFile(path, "utf8").catch(() => undefined)
  return stat === undefined ? undefined : parseStat(stat)
}

const processTicks = (pid: number) => readStat(`/proc/${pid}/stat`)

/** CPU time a process has used so far (user + system, every thread), in seconds. */
export const cpuSeconds = async (pid: number): Promise<number> => {
  const stat = await processTicks(pid)
  if (stat === undefined) throw new Error(`no process ${pid}`)
  return stat.ticks / TICKS
}

/** user + nice + system + irq + softirq + steal of the `cpu` line: time some core was not idle. */
const machineBusyTicks = async () => {
  const text = await readFile("/proc/stat", "utf8")
  const [user, nice, system, _idle, _iowait, irq, softirq, steal] = text
    .slice(0, text.indexOf("\n"))
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number)
  return [user, nice, system, irq, softirq, steal].reduce<number>((total, value) => total + (value ?? 0), 0)
}

/** CPU seconds so far of a process's main thread alone (its JavaScript, for Node), from /proc/<pid>/task/<pid>/stat. */
export const mainThreadSeconds = async (pid: number) =>
  ((await readStat(`/proc/${pid}/task/${pid}/stat`))?.ticks ?? 0) / TICKS

/** CPU seconds so far of a process's threads, summed by thread name (MainThread, V8Worker, libuv-worker, …). */
export const threadSeconds = async (pid: number): Promise<Readonly<Record<string, number>>> => {
  const tasks = await readdir(`/proc/${pid}/task`).catch(() => [])
  const byName: Record<string, number> = {}
  for (const task of tasks) {
    const stat = await readStat(`/proc/${pid}/task/${task}/stat`)
    if (stat === undefined) continue
    byName[stat.comm] = (byName[stat.comm] ?? 0) + stat.ticks / TICKS
  }
  return byName
}

export const cpuSnapshot = async (): Promise<CpuSnapshot> => {
  const pids = (await readdir("/proc")).filter((name) => /^\d+$/.test(name)).map(Number)
  const processes = new Map<number, ProcessTicks>()
  await Promise.all(
    pids.map(async (pid) => {
      const ticks = await processTicks(pid)
      if (ticks !== undefined) processes.set(pid, ticks)
    }),
  )
  return { processes, machineBusyTicks: await machineBusyTicks() }
}

/** CPU seconds `pid` used between two snapshots (a process started in between counts from 0). */
export const usedSeconds = (before: CpuSnapshot, after: CpuSnapshot, pid: number) => {
  const end = after.processes.get(pid)?.ticks
  if (end === undefined) return 0
  return (end - (before.processes.get(pid)?.ticks ?? 0)) / TICKS
}

/** The processes besides `path` that used the most CPU between two snapshots, busiest first. */
export const busiestOthers = (before: CpuSnapshot, after: CpuSnapshot, path: ReadonlySet<number>, count: number) =>
  [...after.processes.entries()]
    .filter(([pid]) => !path.has(pid))
    .map(([pid, process]) => ({ pid, name: process.comm, seconds: usedSeconds(before, after, pid) }))
    .filter((process) => process.seconds > 0)
    .sort((a, b) => b.seconds - a.seconds)
    .slice(0, count)

/** Kernel threads that run network work deferred from the sockets' processes (softirq under load). */
export const softirqThreads = (snapshot: CpuSnapshot) =>
  [...snapshot.processes.entries()].filter(([, process]) => process.comm.startsWith("ksoftirqd/")).map(([pid]) => pid)

export const machineBusySeconds = (before: CpuSnapshot, after: CpuSnapshot) =>
  (after.machineBusyTicks - before.machineBusyTicks) / TICKS

/** The processes below `root` (its children, theirs, …) whose executable is named `name`, e.g. every frps. */
export const descendantsNamed = async (snapshot: CpuSnapshot, root: number, name: string) => {
  const below = (pid: number): boolean => {
    for (let at = snapshot.processes.get(pid)?.ppid; at !== undefined && at > 1; at = snapshot.processes.get(at)?.ppid)
      if (at === root) return true
    return false
  }
  const named: Array<number> = []
  for (const pid of snapshot.processes.keys()) {
    if (!below(pid)) continue
    const exe = await readlink(`/proc/${pid}/exe`).catch(() => "")
    if (basename(exe) === name) named.push(pid)
  }
  return named
}
