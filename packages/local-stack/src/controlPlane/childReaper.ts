import type { ChildProcess } from "node:child_process"
import { existsSync } from "node:fs"

// Children still running when this process exits; killed synchronously so no control plane outlives its test run.
const live = new Set<ChildProcess>()
let hookInstalled = false

const killAll = () => {
  for (const child of live) child.kill("SIGKILL")
}

/** Kills `child` when this process exits, however it exits (as far as Node can see). */
export const reapOnExit = (child: ChildProcess): void => {
  if (!hookInstalled) {
    process.on("exit", killAll)
    hookInstalled = true
  }
  live.add(child)
  child.once("exit", () => live.delete(child))
}

/**
 * A command prefix that makes the kernel SIGKILL the child when this process dies, covering the
 * cases an 'exit' hook cannot see (SIGKILL, OOM). `setpriv` is part of util-linux; without it the
 * 'exit' hook alone remains.
 */
const parentDeathPrefix: ReadonlyArray<string> =
  process.platform === "linux" && existsSync("/usr/bin/setpriv")
    ? ["/usr/bin/setpriv", "--pdeathsig", "KILL", "--"]
    : []

/** What to spawn to run `command` with `args` under the parent-death prefix (the command itself without one). */
export const withParentDeath = (
  command: string,
  args: ReadonlyArray<string>,
): { readonly command: string; readonly args: ReadonlyArray<string> } => {
  const [prefix, ...prefixArgs] = parentDeathPrefix
  return prefix === undefined ? { command, args } : { command: prefix, args: [...prefixArgs, command, ...args] }
}
