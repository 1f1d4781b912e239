import { isIPv4 } from "node:net"
import { type App, FlyClient, type IpAssignment } from "@fly-tunnel-operator/fly"
import { Effect } from "effect"
import { blockedByFly } from "./tunnelBlocked.ts"

const isDedicatedV4 = (ip: IpAssignment) => isIPv4(ip.ip) && ip.shared !== true && ip.egress !== true

/**
 * The tunnel's dedicated IPv4 (raw TCP, PROXY protocol and UDP need one). Listing comes first, so a create whose
 * answer was lost is found instead of billed twice; should two exist anyway, the older stays and the other goes.
 * `listed` is what the caller already knows the App holds (nothing, for an App it just created).
 */
export const ensureAddress = Effect.fn("ensureAddress")(function* (
  app: App,
  listed: ReadonlyArray<IpAssignment> | undefined,
) {
  const fly = yield* FlyClient
  const dedicated = (listed ?? (yield* fly.listIpAssignments(app.name)))
    .filter(isDedicatedV4)
    .sort((a, b) => (a.created_at ?? "").localeCompare(b.created_at ?? ""))
  const [kept, ...extra] = dedicated
  yield* Effect.forEach(
    extra,
    (ip) => fly.deleteIpAssignment(app.name, ip.ip).pipe(Effect.catchTag("FlyNotFound", () => Effect.void)),
    { discard: true },
  )
  if (kept !== undefined) return kept.ip
  return (yield* fly.createIpAssignment(app.name, { type: "v4" })).ip
}, blockedByFly("AddressReady"))
