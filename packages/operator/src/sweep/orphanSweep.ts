// The orphan sweep: what this cluster made for a FlyTunnel that no longer exists — its Fly App (left by force-delete,
// by a finalizer removed by hand, by a CRD deleted with its objects) and its frpc Deployments and Secret — is found
// and removed. Everything is listed fresh, Fly and the cluster's frpc objects first and the FlyTunnels last: whatever
// was listed was made for a tunnel that existed before that, so it shows in the later list unless it is really gone.
// On top, an orphan is removed only once it has stayed one for the grace period, so a tunnel list that is briefly
// empty or partial (a CRD being reinstalled) removes nothing. Only Apps of our own naming are candidates: an App a
// tunnel adopted from the Go operator is never swept, and neither is one a live tunnel re-attached to (it names it
// in spec.adopt, and carries its mark).
import { Labels, MANAGED_BY } from "@fly-tunnel-operator/api"
import { type AppSummary, FlyClient, type FlyError } from "@fly-tunnel-operator/fly"
import { Clock, Duration, Effect, Metric } from "effect"
import { ClusterIdentity } from "../kube/clusterIdentity.ts"
import { KubeClient } from "../kube/kubeClient.ts"
import type { KubeError } from "../kube/kubeErrors.ts"
import { Deployment, FlyTunnel, Secret } from "../kube/resourceType.ts"
import { adoptOf } from "../tunnel/appAdoption.ts"
import { marked, markedAs, tunnelMarkName } from "../tunnel/clusterMark.ts"
import { flyNetworkName } from "../tunnel/tunnelNames.ts"
import { TunnelSettings } from "../tunnel/tunnelSettings.ts"
import { removeFlyApp } from "../tunnel/tunnelTeardown.ts"

export type OrphanKind = "App" | "Deployment" | "Secret"

export interface Orphan {
  readonly kind: OrphanKind
  /** The Fly App's name, or the object's `namespace/name`. */
  readonly name: string
  readonly tunnelUid: string
}

export interface SweepReport {
  /** Orphans removed in this pass. */
  readonly removed: ReadonlyArray<Orphan>
  /** Orphans that wait out the grace period (in a dry run: every orphan found). */
  readonly waiting: ReadonlyArray<Orphan>
  /** Apps named and networked like ours that are not marked as this cluster's: never touched. */
  readonly notOurs: ReadonlyArray<{ readonly app: string; readonly why: string }>
}

/** `fly_tunnel_operator_orphans_removed_total{kind}` */
export const orphansRemoved = Metric.counter("fly_tunnel_operator_orphans_removed_total", {
  description: "Orphans the sweep removed: Fly Apps, frpc Deployments and Secrets whose FlyTunnel was gone",
  incremental: true,
})

const UID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

/** The tunnel UID of an App that has our name and our network (`fto-…-<uid>` on `fto-<uid>`). */
const tunnelUidOf = (app: AppSummary): string | undefined => {
  const uid = UID.exec(app.name)?.[0]
  return uid !== undefined && app.name.startsWith("fto-") && app.network === flyNetworkName({ uid }) ? uid : undefined
}

const keyOf = (orphan: Orphan) => `${orphan.kind}/${orphan.name}`

/**
 * One sweep, keeping in memory when each orphan was first seen across passes. A pass removes the orphans seen at
 * least `grace` ago (none with `dryRun`), logging each; a failure stops the pass and is retried by the next one.
 */
export const makeOrphanSweep = Effect.fnUntraced(function* () {
  const fly = yield* FlyClient
  const kube = yield* KubeClient
  const settings = yield* TunnelSettings
  const { id: clusterId } = yield* ClusterIdentity
  const firstSeen = new Map<string, number>()

  /** Kube objects of ours (frpc Deployments and Secrets) by the tunnel they were made for. */
  const frpcObjects = Effect.gen(function* () {
    const options = { namespace: settings.operatorNamespace, labelSelector: `${Labels.managedBy}=${MANAGED_BY}` }
    const [deployments, secrets] = yield* Effect.all([kube.list(Deployment, options), kube.list(Secret, options)])
    return [
      ...deployments.items.map((object) => ({ kind: "Deployment" as const, object })),
      ...secrets.items.map((object) => ({ kind: "Secret" as const, object })),
    ].flatMap(({ kind, object }) => {
      const tunnelUid = object.metadata?.labels?.[Labels.tunnelUid]
      return tunnelUid === undefined
        ? []
        : [{ kind, name: `${object.metadata?.namespace}/${object.metadata?.name}`, tunnelUid }]
    })
  })

  const remove = (orphan: Orphan): Effect.Effect<void, FlyError | KubeError> => {
    const [namespace = "", name = ""] = orphan.name.split("/")
    switch (orphan.kind) {
      case "App":
        return removeFlyApp(orphan.name, orphan.tunnelUid).pipe(Effect.provideService(FlyClient, fly))
      case "Deployment":
        return kube
          .delete(Deployment, name, namespace, { propagationPolicy: "Foreground" })
          .pipe(Effect.catchTag("KubeNotFound", () => Effect.void))
      case "Secret":
        return kube.delete(Secret, name, namespace).pipe(Effect.catchTag("KubeNotFound", () => Effect.void))
    }
  }

  return Effect.fn("orphanSweep")(function* (options: { readonly dryRun: boolean; readonly grace: Duration.Input }) {
    // Fly and the frpc objects first, the tunnels last (see the top of this file).
    const apps = (yield* fly.listApps(settings.flyOrg)).flatMap((app) => {
      const tunnelUid = tunnelUidOf(app)
      return tunnelUid === undefined ? [] : [{ name: app.name, tunnelUid }]
    })
    const objects = yield* frpcObjects
    const tunnels = (yield* kube.list(FlyTunnel)).items
    const live = new Set(tunnels.map((tunnel) => tunnel.metadata?.uid))
    // An App a live tunnel adopts (spec.adopt), or carrying a live tunnel's mark, is that tunnel's, whatever tunnel it
    // was made for: a re-created Service re-attached to it.
    const adopted = new Set(tunnels.map((tunnel) => adoptOf(tunnel)?.app))
    const liveMarks = new Set(tunnels.map((tunnel) => tunnelMarkName(tunnel.metadata?.uid ?? "")))

    const notOurs: Array<{ app: string; why: string }> = []
    const orphans: Array<Orphan> = objects.filter((object) => !live.has(object.tunnelUid))
    for (const app of apps.filter((app) => !live.has(app.tunnelUid) && !adopted.has(app.name))) {
      const secrets = yield* fly.listSecrets(app.name).pipe(Effect.catchTag("FlyNotFound", () => Effect.succeed([])))
      if (secrets.some((secret) => liveMarks.has(secret.name))) continue
      if (markedAs(secrets, clusterId)) orphans.push({ kind: "App", ...app })
      else
        notOurs.push({
          app: app.name,
          why: marked(secrets) ? "marked as another cluster's" : "marked by no cluster",
        })
    }

    const now = yield* Clock.currentTimeMillis
    const current = new Set(orphans.map(keyOf))
    // What is no longer an orphan (removed, or its tunnel is back) starts over if it ever is one again.
    for (const key of firstSeen.keys()) if (!current.has(key)) firstSeen.delete(key)
    for (const key of current) if (!firstSeen.has(key)) firstSeen.set(key, now)
    const grace = Duration.toMillis(Duration.fromInputUnsafe(options.grace))
    const due = options.dryRun ? [] : orphans.filter((orphan) => now - (firstSeen.get(keyOf(orphan)) ?? now) >= grace)

    // frpc before the App, as a teardown does: a tunnel's client goes before its server.
    const order: Record<OrphanKind, number> = { Deployment: 0, Secret: 1, App: 2 }
    const removed: Array<Orphan> = []
    for (const orphan of [...due].sort((a, b) => order[a.kind] - order[b.kind])) {
      yield* remove(orphan)
      firstSeen.delete(keyOf(orphan))
      removed.push(orphan)
      yield* Metric.update(Metric.withAttributes(orphansRemoved, { kind: orphan.kind }), 1)
      yield* Effect.logInfo("removed an orphan: its FlyTunnel is gone", { ...orphan })
    }
    const waiting = orphans.filter((orphan) => !removed.includes(orphan))
    for (const orphan of waiting)
      yield* Effect.logInfo(
        options.dryRun ? "orphan found (dry run: not removed)" : "orphan found; removed once the grace period passed",
        { ...orphan },
      )
    return { removed, waiting, notOurs } satisfies SweepReport
  })
})
