import type { FlyTunnelSpec } from "@fly-tunnel-operator/api"
import { Effect } from "effect"
import { done, retry } from "../controller/reconcileResult.ts"
import { EventRecorder } from "../kube/eventRecorder.ts"
import { kubeTimeNow } from "../kube/kubeTime.ts"
import type { FlyTunnelObject } from "../kube/resourceType.ts"
import { removeClients } from "./frpcClient.ts"
import type { TunnelBlocked } from "./tunnelBlocked.ts"
import type { TunnelIdentity } from "./tunnelNames.ts"
import { tunnelStatus } from "./tunnelStatus.ts"
import { writeTunnelStatus } from "./tunnelStatusWriter.ts"

/**
 * A reconcile that cannot go on before Fly (the policy refuses the tunnel, or its certificates cannot be issued):
 * status and a Warning say why, and nothing is created. What a live tunnel already has stays (its address is kept for
 * when the cause is fixed), except that with `stopClients` (a refused target) frpc no longer dials anything.
 */
export const haltTunnel = Effect.fn("haltTunnel")(function* (
  tunnel: FlyTunnelObject,
  identity: TunnelIdentity,
  spec: FlyTunnelSpec,
  blocked: TunnelBlocked,
  options: { readonly stopClients: boolean },
) {
  const events = yield* EventRecorder
  if (options.stopClients) yield* removeClients(identity)
  const generation = tunnel.metadata?.generation ?? 0
  yield* writeTunnelStatus(
    tunnel,
    tunnelStatus({ generation, spec, blocked: [blocked] }, tunnel.status, yield* kubeTimeNow),
  )
  yield* events.record(tunnel, { type: "Warning", reason: blocked.reason, message: blocked.message })
  return blocked.retry ? retry : done
})
