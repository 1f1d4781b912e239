import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises"
import { join } from "node:path"

const PREFIX = "fto-control-plane-"
const OWNER_FILE = "owner.pid"

const alive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM"
  }
}

/**
 * Removes work dirs left by control planes whose owning process died without cleaning up (a
 * SIGKILLed test run leaves ~120 MB of etcd data each). Dirs of live owners are kept.
 */
export const removeAbandonedWorkDirs = async (parentDir: string): Promise<void> => {
  for (const name of await readdir(parentDir).catch(() => [])) {
    if (!name.startsWith(PREFIX)) continue
    const owner = Number.parseInt(await readFile(join(parentDir, name, OWNER_FILE), "utf8").catch(() => ""), 10)
    if (Number.isInteger(owner) && !alive(owner)) await rm(join(parentDir, name), { recursive: true, force: true })
  }
}

/** A fresh work dir for one control plane, marked with this process as its owner. */
export const makeWorkDir = async (parentDir: string): Promise<string> => {
  const dir = await mkdtemp(join(parentDir, PREFIX))
  await writeFile(join(dir, OWNER_FILE), String(process.pid))
  return dir
}
