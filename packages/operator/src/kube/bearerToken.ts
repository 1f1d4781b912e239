// The bearer token of a kubeconfig user or of the Pod's service account. A token file is read again whenever it
// changes: the kubelet rotates a projected service account token (about hourly) by swapping the file, and the API
// server refuses the old one once it expires.
import { readFileSync, statSync } from "node:fs"
import { Effect } from "effect"
import { KubeUnavailable } from "./kubeErrors.ts"

/** The token to send now, or undefined for none. */
export type BearerToken = Effect.Effect<string | undefined, KubeUnavailable>

export const noToken: BearerToken = Effect.succeed(undefined)

export const staticToken = (token: string): BearerToken => Effect.succeed(token)

/** The file's token, read again when its inode, size or modification time changed since the last read. */
export const tokenFromFile = (path: string): BearerToken => {
  let cached: { readonly stamp: string; readonly token: string } | undefined
  return Effect.try({
    try: () => {
      const stat = statSync(path)
      const stamp = `${stat.ino}:${stat.size}:${stat.mtimeMs}`
      if (cached?.stamp !== stamp) cached = { stamp, token: readFileSync(path, "utf8").trim() }
      return cached.token
    },
    catch: (cause) =>
      new KubeUnavailable({
        request: "read the bearer token",
        message: `cannot read ${path}: ${cause instanceof Error ? cause.message : String(cause)}`,
      }),
  })
}
