import { isIPv4 } from "node:net"
import { type FlyTunnelStatus, Reasons } from "@fly-tunnel-operator/api"
import { type App, FlyClient, type IpAssignment } from "@fly-tunnel-operator/fly"
import { Clock, Effect } from "effect"
import { LeadershipFence } from "../kube/leadershipFence.ts"
import { blockedByFly, TunnelBlocked } from "./tunnelBlocked.ts"

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
  // Right after taking over from a leader that did not let go, its own create may still be on its way to Fly; an
  // IPv4 has no name to refuse a second one by, so none is asked for until those requests have settled.
  const settlingUntil = yield* (yield* LeadershipFence).settlingUntil
  const now = yield* Clock.currentTimeMillis
  if (now < settlingUntil) {
    return yield* new TunnelBlocked({
      condition: "AddressReady",
      reason: Reasons.Provisioning,
      message: `waiting ${Math.ceil((settlingUntil - now) / 1000)}s for the requests the previous leader left in flight to Fly to settle, so that no second IPv4 is billed`,
      retry: true,
      retryAfterMillis: settlingUntil - now,
    })
  }
  return (yield* fly.createIpAssignment(app.name, { type: "v4" })).ip
}, blockedByFly("AddressReady"))
