import { isIPv4, isIPv6 } from "node:net"
import { type FlyTunnelStatus, Reasons } from "@fly-tunnel-operator/api"
import { type App, FlyClient, type IpAssignment } from "@fly-tunnel-operator/fly"
import { Clock, Effect } from "effect"
import { LeadershipFence } from "../kube/leadershipFence.ts"
import { blockedByFly, TunnelBlocked } from "./tunnelBlocked.ts"

/** The tunnel's public addresses: the dedicated IPv4 (what frpc dials), and the IPv6 unless the spec opts out. */
export interface TunnelAddresses {
  readonly v4: string
  readonly v6?: string
}

type Family = "v4" | "v6"

const isDedicatedV4 = (ip: IpAssignment) => isIPv4(ip.ip) && ip.shared !== true && ip.egress !== true
/** Public: not Flycast (which has a network), not an egress address. */
const isPublicV6 = (ip: IpAssignment) =>
  isIPv6(ip.ip) && (ip.network === undefined || ip.network === null) && ip.egress !== true
const ofFamily = { v4: isDedicatedV4, v6: isPublicV6 } as const

/** The addresses the tunnel's status holds: what the Service publishes. */
export const publishedAddresses = (status: FlyTunnelStatus | undefined): Partial<Record<Family, string>> =>
  Object.fromEntries((status?.addresses ?? []).map((address) => [address.type, address.ip]))

/**
 * The tunnel's dedicated IPv4 (raw TCP, PROXY protocol and UDP need one) and its IPv6. Listing comes first, so a
 * create whose answer was lost (or came back 5xx after Fly made it) is found instead of made twice. Should two of a
 * family exist anyway, the published one stays — the operator never moves a user's address — and the others go; with
 * none published, the oldest stays. An IPv6 the spec no longer wants is released. `known` is what the caller already
 * knows the App holds (nothing, for an App it just created), saving the list.
 */
export const ensureAddresses = Effect.fn("ensureAddresses")(function* (
  app: App,
  wanted: { readonly ipv6: boolean; readonly published: Partial<Record<Family, string>> },
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
      .filter(ofFamily[family])
      .sort(
        (a, b) =>
          Number(b.ip === published) - Number(a.ip === published) ||
          (a.created_at ?? "").localeCompare(b.created_at ?? ""),
      )
    yield* release(extra)
    return kept?.ip
  })

  let v4 = yield* keepOne("v4")
  let v6: string | undefined
  if (wanted.ipv6) v6 = yield* keepOne("v6")
  else yield* release(listed.filter(isPublicV6))
  if (v4 !== undefined && (v6 !== undefined || !wanted.ipv6)) return { v4, ...(v6 === undefined ? {} : { v6 }) }

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
  v4 ??= (yield* fly.createIpAssignment(app.name, { type: "v4" })).ip
  if (wanted.ipv6) v6 ??= (yield* fly.createIpAssignment(app.name, { type: "v6" })).ip
  return { v4, ...(v6 === undefined ? {} : { v6 }) } satisfies TunnelAddresses
}, blockedByFly("AddressReady"))
