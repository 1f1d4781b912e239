import { isIPv4 } from "node:net"
import type { FlyTunnelStatus } from "@fly-tunnel-operator/api"
import { type App, FlyClient, type IpAssignment } from "@fly-tunnel-operator/fly"
import { Effect } from "effect"
import { blockedByFly } from "./tunnelBlocked.ts"

const isDedicatedV4 = (ip: IpAssignment) => isIPv4(ip.ip) && ip.shared !== true && ip.egress !== true

/** The IPv4 the tunnel's status holds: what the Service publishes. */
export const publishedAddress = (status: FlyTunnelStatus | undefined): string | undefined =>
  status?.addresses?.find((address) => address.type === "v4")?.ip

/**
 * The tunnel's dedicated IPv4 (raw TCP, PROXY protocol and UDP need one). Listing comes first, so a create whose
 * answer was lost (or came back 5xx after Fly made it) is found instead of billed twice. Should two exist anyway, the
 * published one stays — the operator never moves a user's address — and the others go; with none published, the
 * oldest stays.
 */
export const ensureAddress = Effect.fn("ensureAddress")(function* (app: App, published: string | undefined) {
  const fly = yield* FlyClient
  const dedicated = (yield* fly.listIpAssignments(app.name))
    .filter(isDedicatedV4)
    .sort(
      (a, b) =>
        Number(b.ip === published) - Number(a.ip === published) ||
        (a.created_at ?? "").localeCompare(b.created_at ?? ""),
    )
  const [kept, ...extra] = dedicated
  yield* Effect.forEach(
    extra,
    (ip) => fly.deleteIpAssignment(app.name, ip.ip).pipe(Effect.catchTag("FlyNotFound", () => Effect.void)),
    { discard: true },
  )
  if (kept !== undefined) return kept.ip
  return (yield* fly.createIpAssignment(app.name, { type: "v4" })).ip
}, blockedByFly("AddressReady"))
