import { chmod, mkdir, writeFile } from "node:fs/promises"
import { dirname, join, posix } from "node:path"
import { Effect } from "effect"
import type { MachineFile } from "./machineConfigParts.ts"
import { RuntimeError } from "./runtimeError.ts"

/**
 * Writes `config.files` under the machine's root directory (guest `/etc/frp/frps.toml` →
 * `<root>/etc/frp/frps.toml`) and returns guest path → host path. `raw_value` is base64, and so is
 * the value of the app secret a `secret_name` points to (Fly's app secrets docs).
 */
export const materializeFiles = Effect.fnUntraced(function* (
  machineId: string,
  root: string,
  files: ReadonlyArray<MachineFile>,
  secrets: Readonly<Record<string, string>>,
) {
  const paths = new Map<string, string>()
  for (const file of files) {
    const guestPath = posix.normalize(file.guest_path)
    if (!posix.isAbsolute(guestPath))
      return yield* new RuntimeError({ machineId, message: `files: guest_path ${file.guest_path} is not absolute` })
    const encoded = file.raw_value ?? (file.secret_name === undefined ? undefined : secrets[file.secret_name])
    if (encoded === undefined)
      return yield* new RuntimeError({
        machineId,
        message:
          file.secret_name === undefined
            ? `files: ${guestPath} has neither raw_value nor secret_name`
            : `files: ${guestPath} names secret ${file.secret_name}, which the app does not have`,
      })
    const hostPath = join(root, guestPath)
    yield* Effect.tryPromise({
      try: async () => {
        await mkdir(dirname(hostPath), { recursive: true })
        await writeFile(hostPath, Buffer.from(encoded, "base64"), { mode: 0o600 })
        if (file.mode !== undefined) await chmod(hostPath, file.mode)
      },
      catch: (error) => new RuntimeError({ machineId, message: `files: writing ${guestPath}: ${String(error)}` }),
    })
    paths.set(guestPath, hostPath)
  }
  return paths
})
