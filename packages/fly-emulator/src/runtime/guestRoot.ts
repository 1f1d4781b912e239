import { execFileSync } from "node:child_process"
import { chmod, copyFile, link, mkdir, writeFile } from "node:fs/promises"
import { dirname, join } from "node:path"

/** The runtime chroots machines into their root directory when it can (root, and `chroot` present). */
export const canChroot = (): boolean => {
  if (process.getuid?.() !== 0) return false
  try {
    execFileSync("chroot", ["--version"], { stdio: "ignore" })
    return true
  } catch {
    return false
  }
}

/**
 * Makes a machine root bootable under chroot: the program at its guest path (frps is a static Go
 * binary, so nothing else is needed) and an /etc/hosts where `fly-global-services` is the
 * machine's separate UDP address, the one Fly's proxy delivers datagrams to.
 */
export const prepareGuestRoot = async (
  root: string,
  program: { readonly guestPath: string; readonly binary: string },
  globalServices: string,
) => {
  const target = join(root, program.guestPath)
  await mkdir(dirname(target), { recursive: true })
  await link(program.binary, target).catch(() => copyFile(program.binary, target))
  await chmod(target, 0o755)
  await mkdir(join(root, "etc"), { recursive: true })
  await mkdir(join(root, "tmp"), { recursive: true })
  await writeFile(join(root, "etc/hosts"), `127.0.0.1 localhost\n${globalServices} fly-global-services\n`)
}
