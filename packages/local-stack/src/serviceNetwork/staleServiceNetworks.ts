import { existsSync } from "node:fs"
import { Effect } from "effect"
import { ip, ipBestEffort } from "./ipCommand.ts"

/** Service network namespaces are named `fto-svc-<owner pid>-<random>`, so a dead owner's can be found. */
export const serviceNamespacePrefix = "fto-svc-"

/**
 * Removes service namespaces whose owning process is gone (a SIGKILLed run). Deleting the namespace deletes its
 * veth pair, and with it the host route to the service range.
 */
export const sweepStaleServiceNetworks: Effect.Effect<void> = Effect.gen(function* () {
  const listing = yield* ip(["netns", "list"]).pipe(Effect.orElseSucceed(() => ""))
  const stale = listing
    .split("\n")
    .map((line) => line.split(" ")[0] ?? "")
    .filter((name) => name.startsWith(serviceNamespacePrefix))
    .filter((name) => {
      const pid = Number(name.slice(serviceNamespacePrefix.length).split("-")[0])
      return Number.isInteger(pid) && pid > 0 && !existsSync(`/proc/${pid}`)
    })
  yield* Effect.forEach(stale, (name) => ipBestEffort(["netns", "del", name]), { discard: true })
})
