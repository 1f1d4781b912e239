import type { KnownImage } from "./knownImages.ts"
import type { MachineInit } from "./machineConfigParts.ts"

/**
 * The guest command line per Fly's `init` semantics: `exec` replaces everything; otherwise
 * `entrypoint` replaces the image's ENTRYPOINT and `cmd` its CMD (as in Docker, a new entrypoint
 * drops the image's CMD).
 */
export const guestCommand = (image: KnownImage, init: MachineInit | undefined): ReadonlyArray<string> => {
  if (init?.exec && init.exec.length > 0) return init.exec
  const entrypoint = init?.entrypoint ?? image.entrypoint
  const cmd = init?.cmd ?? (init?.entrypoint ? [] : image.cmd)
  return [...entrypoint, ...cmd]
}

/** The guest program's absolute path and the host binary behind it; undefined when the image lacks it. */
export const resolveProgram = (
  image: KnownImage,
  program: string | undefined,
): { readonly guestPath: string; readonly binary: string } | undefined => {
  if (program === undefined) return undefined
  const guestPath = program.startsWith("/") ? program : `/usr/bin/${program}`
  const binary = image.programs[guestPath]
  return binary === undefined ? undefined : { guestPath, binary }
}

/**
 * For hosts where the runtime cannot chroot (not root): every argument naming a materialized guest
 * file, alone or after `=` (`--config=/etc/x`), becomes that file's host path. Paths *inside* the
 * files are not rewritten.
 */
export const rewriteGuestPaths = (
  args: ReadonlyArray<string>,
  hostPathOf: (guestPath: string) => string | undefined,
): ReadonlyArray<string> =>
  args.map((arg) => {
    const whole = hostPathOf(arg)
    if (whole !== undefined) return whole
    const equals = arg.indexOf("=")
    const tail = equals >= 0 ? hostPathOf(arg.slice(equals + 1)) : undefined
    return tail === undefined ? arg : `${arg.slice(0, equals + 1)}${tail}`
  })
