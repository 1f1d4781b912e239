import type { FlyTunnelStatus } from "@fly-tunnel-operator/api"
import { Effect, Option, Schedule, Struct } from "effect"
import { KubeCache } from "../kube/kubeCache.ts"
import { KubeClient } from "../kube/kubeClient.ts"
import { sameJson } from "../kube/patches.ts"
import { FlyTunnel, type FlyTunnelObject } from "../kube/resourceType.ts"

/**
 * The FlyTunnel's one status writer: a server-side apply of the whole status (the Tunnel controller owns all of it),
 * skipped when nothing changed, so a converged tunnel costs no write and no watch event. The uid keeps a deleted
 * tunnel from being written to under a new incarnation of its name. A write returns once the shared cache shows it
 * (or after a short bound, should another writer have moved it on meanwhile): the tunnel's next pass reads the cache,
 * and a pass on the status this one replaced would repeat what this one did and recorded (push the token again, say).
 */
export const writeTunnelStatus = Effect.fn("writeTunnelStatus")(function* (
  tunnel: FlyTunnelObject,
  status: FlyTunnelStatus,
) {
  if (sameJson(tunnel.status, status)) return tunnel
  const kube = yield* KubeClient
  const cache = yield* KubeCache
  const written = yield* kube.applyStatus(FlyTunnel, {
    metadata: Struct.pick(tunnel.metadata ?? {}, ["name", "namespace", "uid"]),
    status,
  })
  const version = written.metadata?.resourceVersion
  yield* cache.tunnels.get(tunnel.metadata?.name ?? "", tunnel.metadata?.namespace).pipe(
    Effect.repeat({
      schedule: Schedule.spaced("10 millis"),
      until: (cached) => Option.isNone(cached) || cached.value.metadata?.resourceVersion === version,
    }),
    Effect.timeoutOption("2 seconds"),
  )
  return written
})
