import { readdir, readFile } from "node:fs/promises"

/**
 * The pids of frpc processes the node agent runs for Pods of `namespace` (their config lives under the agent's
 * `<root>/<namespace>/<pod>/`), read from /proc.
 */
export const frpcProcessesOf = async (frpcPath: string, namespace: string): Promise<ReadonlyArray<number>> => {
  const pids: Array<number> = []
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue
    const cmdline = await readFile(`/proc/${entry}/cmdline`, "utf8").catch(() => "")
    const [binary, ...args] = cmdline.split("\0")
    if (binary === frpcPath && args.some((arg) => arg.includes(`/${namespace}/frpc-`))) pids.push(Number(entry))
  }
  return pids
}
