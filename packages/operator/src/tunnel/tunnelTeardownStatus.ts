import { Reasons } from "@fly-tunnel-operator/api"
import { DateTime, Effect } from "effect"
import { KubeClient } from "../kube/kubeClient.ts"
import type { TunnelBlocked } from "./tunnelBlocked.ts"
import { FlyTunnelType, type RawFlyTunnel } from "./tunnelReconciler.ts"

/** Phase Deleting while teardown runs; a failed teardown says why in the Ready condition (finalizer kept). */
export const ensureTeardownStatus = Effect.fn("ensureTeardownStatus")(function* (
  tunnel: RawFlyTunnel,
  failure?: TunnelBlocked,
) {
  const kube = yield* KubeClient
  const time = DateTime.formatIso(yield* DateTime.now).replace(/\.\d{3}Z$/, "Z")
  const previous = tunnel.status?.conditions ?? []
  const ready = {
    type: "Ready",
    status: "False" as const,
    observedGeneration: tunnel.metadata?.generation ?? 0,
    lastTransitionTime:
      previous.find((condition) => condition.type === "Ready" && condition.status === "False")?.lastTransitionTime ??
      time,
    reason: failure === undefined ? Reasons.Deleting : Reasons.DeleteFailed,
    message: failure === undefined ? "tearing down frpc, the IPs, the Machines and the App" : failure.message,
  }
  return yield* kube.updateStatus(FlyTunnelType, tunnel, {
    ...tunnel.status,
    phase: "Deleting",
    conditions: [ready, ...previous.filter((condition) => condition.type !== "Ready")],
  })
})
