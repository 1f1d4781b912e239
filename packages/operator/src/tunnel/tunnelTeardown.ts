import { Labels, Reasons } from "@fly-tunnel-operator/api"
import { FlyClient, type FlyError } from "@fly-tunnel-operator/fly"
import { Effect } from "effect"
import { KubeClient } from "../kube/kubeClient.ts"
import type { KubeError } from "../kube/kubeErrors.ts"
import * as ResourceType from "../kube/resourceType.ts"
import { TunnelBlocked } from "./tunnelBlocked.ts"
import { flyAppName, flyNetworkName, frpcObjectName, MachineMetadata, type TunnelIdentity } from "./tunnelNames.ts"
import { TunnelSettings } from "./tunnelSettings.ts"

/**
 * Tears a tunnel down in reverse: frpc, then the IPs, the Machines and the App. A 404 means already gone. Any other
 * failure stops here (and keeps the finalizer): nothing is leaked silently.
 */
export const teardownTunnel = Effect.fn("teardownTunnel")(
  function* (tunnel: TunnelIdentity) {
    const kube = yield* KubeClient
    const fly = yield* FlyClient
    const settings = yield* TunnelSettings
    const name = frpcObjectName(tunnel)
    const deployments = yield* kube.list(ResourceType.Deployment, {
      namespace: settings.operatorNamespace,
      labelSelector: `${Labels.tunnelUid}=${tunnel.uid}`,
    })
    yield* Effect.forEach(
      deployments.items,
      (deployment) =>
        kube
          .delete(ResourceType.Deployment, deployment.metadata?.name ?? "", settings.operatorNamespace, {
            propagationPolicy: "Foreground",
          })
          .pipe(Effect.catchTag("KubeNotFound", () => Effect.void)),
      { discard: true },
    )
    yield* kube
      .delete(ResourceType.Secret, name, settings.operatorNamespace)
      .pipe(Effect.catchTag("KubeNotFound", () => Effect.void))

    const appName = flyAppName(tunnel)
    const app = yield* fly.getApp(appName).pipe(Effect.catchTag("FlyNotFound", () => Effect.succeed(undefined)))
    // Never touch an App that is not ours, even if it has our derived name.
    if (app === undefined || app.network !== flyNetworkName(tunnel)) return
    const ips = yield* fly.listIpAssignments(appName).pipe(Effect.catchTag("FlyNotFound", () => Effect.succeed([])))
    yield* Effect.forEach(
      ips,
      (ip) => fly.deleteIpAssignment(appName, ip.ip).pipe(Effect.catchTag("FlyNotFound", () => Effect.void)),
      { discard: true },
    )
    const machines = yield* fly
      .listMachines(appName, { metadata: { [MachineMetadata.tunnelUid]: tunnel.uid } })
      .pipe(Effect.catchTag("FlyNotFound", () => Effect.succeed([])))
    yield* Effect.forEach(
      machines,
      (machine) => fly.deleteMachine(appName, machine.id).pipe(Effect.catchTag("FlyNotFound", () => Effect.void)),
      {
        concurrency: "unbounded",
        discard: true,
      },
    )
    yield* fly.deleteApp(appName).pipe(Effect.catchTag("FlyNotFound", () => Effect.void))
  },
  Effect.mapError(
    (error: FlyError | KubeError) =>
      new TunnelBlocked({
        condition: "Ready",
        reason: Reasons.DeleteFailed,
        message: `teardown stopped: ${"endpoint" in error ? `Fly API ${error.endpoint}: ` : ""}${error.message}`,
        retry: true,
      }),
  ),
)
