import type { FlyTunnelStatus } from "@fly-tunnel-operator/api"
import { Effect, Struct } from "effect"
import { KubeClient } from "../kube/kubeClient.ts"
import { sameJson } from "../kube/patches.ts"
import { FlyTunnel, type FlyTunnelObject } from "../kube/resourceType.ts"

/**
 * The FlyTunnel's one status writer: a server-side apply of the whole status (the Tunnel controller owns all of it),
 * skipped when nothing changed, so a converged tunnel costs no write and no watch event. The uid keeps a deleted
 * tunnel from being written to under a new incarnation of its name.
 */
export const writeTunnelStatus = Effect.fn("writeTunnelStatus")(function* (
  tunnel: FlyTunnelObject,
  status: FlyTunnelStatus,
) {
  if (sameJson(tunnel.status, status)) return tunnel
  const kube = yield* KubeClient
  return yield* kube.applyStatus(FlyTunnel, {
    metadata: Struct.pick(tunnel.metadata ?? {}, ["name", "namespace", "uid"]),
    status,
  })
})
