// Taking over an App this tunnel did not create (spec.adopt): the Go operator's App of a Service, or an App this
// cluster made for a FlyTunnel that is gone (a re-created Service). Such an App's name and network do not say it is
// this tunnel's, so adoption has its own, explicit ownership rule, checked before anything is changed on the App:
//
// - the user opted in, by naming the App and its IPv4 in spec.adopt (a Service does so only with the adopt annotation
//   or the chart's adoption.enabled);
// - the App is in this operator's organization;
// - it carries no other cluster's mark, and no mark of another live FlyTunnel (and no older live FlyTunnel names it);
// - an App of this operator's own naming (`fto-…` on network `fto-<uid>`) must carry this cluster's mark, and the
//   FlyTunnel it was made for must be gone;
// - it holds the dedicated IPv4 spec.adopt names, which the tunnel then keeps: nothing allocates a second one.
//
// Once taken, the App carries this cluster's mark and this tunnel's (flySecret.ts), and status.app records it; from
// then on the tunnel treats it as its own (Machines replaced, teardown deletes it).
import { type Adopt, Adopt as AdoptSchema, type FlyTunnelStatus, Reasons } from "@fly-tunnel-operator/api"
import { type App, FlyClient } from "@fly-tunnel-operator/fly"
import { Effect, Option, Schema } from "effect"
import { ClusterIdentity } from "../kube/clusterIdentity.ts"
import { KubeCache } from "../kube/kubeCache.ts"
import type { FlyTunnelObject } from "../kube/resourceType.ts"
import { markedAs, otherClustersMarks, tunnelMarkName } from "./clusterMark.ts"
import { isDedicatedV4 } from "./flyAddress.ts"
import { blockedByFly, TunnelBlocked } from "./tunnelBlocked.ts"
import type { TunnelIdentity } from "./tunnelNames.ts"
import { TunnelSettings } from "./tunnelSettings.ts"

const decodeAdopt = Schema.decodeUnknownOption(Schema.Struct({ adopt: AdoptSchema }))

/** The App a FlyTunnel object names in spec.adopt, if any (read from another tunnel's raw spec too). */
export const adoptOf = (tunnel: FlyTunnelObject): Adopt | undefined =>
  Option.getOrUndefined(Option.map(decodeAdopt(tunnel.spec), (spec) => spec.adopt))

const refused = (app: string, why: string) =>
  new TunnelBlocked({
    condition: "AppReady",
    reason: Reasons.AdoptionRefused,
    message: `Fly App ${app} is not taken over: ${why}. Nothing was changed on it.`,
    retry: false,
  })

/** `namespace/name` of a FlyTunnel, for messages. */
const nameOf = (tunnel: FlyTunnelObject) => `${tunnel.metadata?.namespace}/${tunnel.metadata?.name}`

/** Whether `other` came first: created earlier, or at the same second with the smaller UID. */
const olderThan = (other: FlyTunnelObject, self: FlyTunnelObject) => {
  const a = String(other.metadata?.creationTimestamp ?? "")
  const b = String(self.metadata?.creationTimestamp ?? "")
  return a < b || (a === b && (other.metadata?.uid ?? "") < (self.metadata?.uid ?? ""))
}

/** Whether status records that this very App was taken over by this tunnel (its marks were pushed to it). */
export const recordedAsAdopted = (recorded: FlyTunnelStatus["app"], app: App, clusterId: string): boolean =>
  recorded?.name === app.name && recorded.id === app.id && recorded.cluster === clusterId

/**
 * The App spec.adopt names, once the ownership rule above holds; AdoptionRefused (changing nothing) otherwise. Checked
 * until status records the App as taken over by this tunnel; after that, only that it still exists.
 */
export const ensureAdoptedApp = Effect.fn("ensureAdoptedApp")(function* (
  tunnel: TunnelIdentity,
  self: FlyTunnelObject,
  adopt: Adopt,
) {
  const fly = yield* FlyClient
  const settings = yield* TunnelSettings
  const cache = yield* KubeCache
  const { id: clusterId } = yield* ClusterIdentity
  const found = yield* fly.getApp(adopt.app).pipe(
    Effect.map(Option.some),
    Effect.catchTag("FlyNotFound", () => Effect.succeedNone),
  )
  if (Option.isNone(found)) return yield* refused(adopt.app, "it does not exist in Fly")
  const app = found.value
  if (recordedAsAdopted(self.status?.app, app, clusterId)) return app

  const org = app.organization?.slug
  if (org !== undefined && org !== settings.flyOrg)
    return yield* refused(app.name, `it belongs to organization ${org}, not ${settings.flyOrg}`)
  const secrets = yield* fly.listSecrets(app.name)
  const foreign = otherClustersMarks(secrets, clusterId)
  if (foreign.length > 0) return yield* refused(app.name, `it is marked as another cluster's (${foreign.join(", ")})`)

  const others = (yield* cache.tunnels.list()).filter((other) => other.metadata?.uid !== tunnel.uid)
  const holder = others.find((other) =>
    secrets.some((secret) => secret.name === tunnelMarkName(other.metadata?.uid ?? "")),
  )
  if (holder !== undefined) return yield* refused(app.name, `FlyTunnel ${nameOf(holder)} holds it`)
  const rival = others.find(
    (other) => other.status?.app?.name === app.name || (adoptOf(other)?.app === app.name && olderThan(other, self)),
  )
  if (rival !== undefined) return yield* refused(app.name, `FlyTunnel ${nameOf(rival)} adopts it first`)

  // An App of our own naming: this cluster's, and its FlyTunnel gone (a re-created Service re-attaching to it).
  const madeFor = app.network?.startsWith("fto-") === true ? app.network.slice("fto-".length) : undefined
  if (madeFor !== undefined && madeFor !== tunnel.uid) {
    if (!markedAs(secrets, clusterId))
      return yield* refused(app.name, "it was made by fly-tunnel-operator but is not marked as this cluster's")
    const owner = others.find((other) => other.metadata?.uid === madeFor)
    if (owner !== undefined) return yield* refused(app.name, `it is the App of FlyTunnel ${nameOf(owner)}`)
  }

  const ips = yield* fly.listIpAssignments(app.name)
  if (!ips.some((ip) => ip.ip === adopt.ipv4 && isDedicatedV4(ip))) {
    const held = ips.filter(isDedicatedV4).map((ip) => ip.ip)
    return yield* refused(
      app.name,
      `it holds no dedicated IPv4 ${adopt.ipv4} (${held.length === 0 ? "it holds none" : `it holds ${held.join(", ")}`})`,
    )
  }
  return app
}, blockedByFly("AppReady"))
