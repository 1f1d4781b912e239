import { existsSync } from "node:fs"
import { Effect } from "effect"
import { ip, ipBestEffort } from "./ipCommand.ts"

/** Emulator namespaces are named `fto-emu-<pid>-<random>[-m<n>]`, so the owner can be checked. */
export const namespacePrefix = "fto-emu-"

// A reused pid keeps a stale namespace a little longer; the next sweep after that process ends removes it.
const ownerAlive = (pid: number): boolean => existsSync(`/proc/${pid}`)

/**
 * Removes namespaces left by emulators that died without cleaning up (their owner pid is gone).
 * Namespaces of emulators still running, in this process or others, are left alone.
 */
export const sweepStaleNamespaces: Effect.Effect<void> = Effect.gen(function* () {
  const listing = yield* ip(["netns", "list"]).pipe(Effect.orElseSucceed(() => ""))
  const stale = listing
    .split("\n")
    .map((line) => line.split(" ")[0] ?? "")
    .filter((name) => name.startsWith(namespacePrefix))
    .filter((name) => {
      const pid = Number(name.slice(namespacePrefix.length).split("-")[0])
      return Number.isInteger(pid) && pid > 0 && !ownerAlive(pid)
    })
  // Deleting a namespace also deletes its veth pairs, and with them the host-side routes.
  yield* Effect.forEach(stale, (name) => ipBestEffort(["netns", "del", name]), { discard: true })
})
