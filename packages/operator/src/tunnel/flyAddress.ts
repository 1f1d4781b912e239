import { isIPv4, isIPv6 } from "node:net"
import { type FlyTunnelStatus, type Ipv4Kind, Reasons } from "@fly-tunnel-operator/api"
import { type App, FlyClient, type IpAssignment } from "@fly-tunnel-operator/fly"
import { Clock, Effect } from "effect"
import { LeadershipFence } from "../kube/leadershipFence.ts"
import { blockedByFly, TunnelBlocked } from "./tunnelBlocked.ts"

/**
 * The tunnel's public addresses: its IPv4 (dedicated or shared), and the IPv6 unless the spec opts out. frpc dials the
 * dedicated IPv4, or on a shared one (which carries no raw TCP) the IPv6.
 */
export interface TunnelAddresses {
  readonly v4: string
  readonly v6?: string
}

type Family = "v4" | "v6"

/** A dedicated IPv4: not the shared one, not an egress address. */
export const isDedicatedV4 = (ip: IpAssignment) => isIPv4(ip.ip) && ip.shared !== true && ip.egress !== true
/** The shared IPv4 (free, routed by hostname), not an egress address. */
const isSharedV4 = (ip: IpAssignment) => isIPv4(ip.ip) && ip.shared === true && ip.egress !== true
/** Public: not Flycast (which has a network), not an egress address. */
const isPublicV6 = (ip: IpAssignment) =>
  isIPv6(ip.ip) && (ip.network === undefined || ip.network === null) && ip.egress !== true
const ofKind = { dedicated: isDedicatedV4, shared: isSharedV4 } as const

/** The addresses the tunnel's status holds: what the Service publishes. */
export const publishedAddresses = (status: FlyTunnelStatus | undefined): Partial<Record<Family, string>> =>
  Object.fromEntries((status?.addresses ?? []).map((address) => [address.type, address.ip]))

/**
 * The tunnel's IPv4 — dedicated (raw TCP, PROXY protocol and UDP need one) or shared (free, routed by hostname) — and
 * its IPv6. Listing comes first, so a create whose answer was lost (or came back 5xx after Fly made it) is found
 * instead of made twice. Should two of a kind exist anyway, the published one stays — the operator never moves a
 * user's address — and the others go; with none published, the oldest stays. An IPv6 the spec no longer wants is
 * released, and so is the IPv4 of the other kind once the wanted one exists. `known` is what the caller already knows
 * the App holds (nothing, for an App it just created), saving the list.
 */
export const ensureAddresses = Effect.fn("ensureAddresses")(function* (
  app: App,
  wanted: {
    readonly ipv4: Ipv4Kind
    readonly ipv6: boolean
    readonly published: Partial<Record<Family, string>>
  },
  known?: ReadonlyArray<IpAssignment>,
) {
  const fly = yield* FlyClient
  const listed = known ?? (yield* fly.listIpAssignments(app.name))
  const release = (ips: ReadonlyArray<IpAssignment>) =>
    Effect.forEach(
      ips,
      (ip) => fly.deleteIpAssignment(app.name, ip.ip).pipe(Effect.catchTag("FlyNotFound", () => Effect.void)),
      { discard: true },
    )
  const keepOne = Effect.fnUntraced(function* (family: Family) {
    const published = wanted.published[family]
    const [kept, ...extra] = listed
      .filter(family === "v4" ? ofKind[wanted.ipv4] : isPublicV6)
      .sort(
        (a, b) =>
          Number(b.ip === published) - Number(a.ip === published) ||
          (a.created_at ?? "").localeCompare(b.created_at ?? ""),
      )
    yield* release(extra)
    return kept?.ip
  })

  const otherKind = listed.filter(ofKind[wanted.ipv4 === "shared" ? "dedicated" : "shared"])
  let v4 = yield* keepOne("v4")
  let v6: string | undefined
  if (wanted.ipv6) v6 = yield* keepOne("v6")
  else yield* release(listed.filter(isPublicV6))
  if (v4 !== undefined && (v6 !== undefined || !wanted.ipv6)) {
    yield* release(otherKind)
    return { v4, ...(v6 === undefined ? {} : { v6 }) }
  }

  // Right after taking over from a leader that did not let go, its own create may still be on its way to Fly; an
  // address has no name to refuse a second one by, so none is asked for until those requests have settled.
  const settlingUntil = yield* (yield* LeadershipFence).settlingUntil
  const now = yield* Clock.currentTimeMillis
  if (now < settlingUntil) {
    return yield* new TunnelBlocked({
      condition: "AddressReady",
      reason: Reasons.Provisioning,
      message: `waiting ${Math.ceil((settlingUntil - now) / 1000)}s for the requests the previous leader left in flight to Fly to settle, so that no second address is allocated`,
      retry: true,
      retryAfterMillis: settlingUntil - now,
    })
  }
  // Both at once: neither depends on the other, and each is one of Fly's slower answers. Each is let finish even when
  // the other fails (one cut short on the wire could be made unseen, then made again by the next pass).
  const [createdV4, createdV6] = yield* Effect.all(
    [
      v4 === undefined
        ? fly.createIpAssignment(app.name, { type: wanted.ipv4 === "shared" ? "shared_v4" : "v4" })
        : Effect.succeed({ ip: v4 }),
      wanted.ipv6 && v6 === undefined ? fly.createIpAssignment(app.name, { type: "v6" }) : Effect.succeed(undefined),
    ],
    { concurrency: 2, mode: "result" },
  )
  v4 = (yield* Effect.fromResult(createdV4)).ip
  v6 = (yield* Effect.fromResult(createdV6))?.ip ?? v6
  // Moving between kinds: the old IPv4 goes once the new one exists.
  yield* release(otherKind)
  return { v4, ...(v6 === undefined ? {} : { v6 }) } satisfies TunnelAddresses
}, blockedByFly("AddressReady"))
