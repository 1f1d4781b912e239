import { hostname } from "node:os"
import { FlyClient } from "@fly-tunnel-operator/fly"
import { FRPC_IMAGE, FRPS_IMAGE } from "@fly-tunnel-operator/frp"
import { type Duration, Effect, Layer, Ref } from "effect"
import type { OperatorConfig } from "./config/operatorConfig.ts"
import { ClusterIdentity } from "./kube/clusterIdentity.ts"
import { ClusterRanges } from "./kube/clusterRanges.ts"
import { EventRecorder } from "./kube/eventRecorder.ts"
import { KubeCache } from "./kube/kubeCache.ts"
import { KubeClient } from "./kube/kubeClient.ts"
import * as LeaderElection from "./kube/leaderElection.ts"
import { HostResolver } from "./policy/hostResolver.ts"
import { TunnelPolicy, tunnelPolicyOf } from "./policy/tunnelPolicy.ts"
import { isManagedService } from "./service/serviceClass.ts"
import { makeServiceController } from "./service/serviceController.ts"
import { ServiceSettings } from "./service/serviceSettings.ts"
import { type OrphanSweeperOptions, runOrphanSweeper } from "./sweep/orphanSweeper.ts"
import { CapacityBackoff } from "./tunnel/capacityBackoff.ts"
import { FlyRegions } from "./tunnel/flyRegions.ts"
import { FrpsDialer } from "./tunnel/frpsDialer.ts"
import { RolloutGate } from "./tunnel/machineRollout.ts"
import { makeTunnelController } from "./tunnel/tunnelController.ts"
import { TunnelSettings } from "./tunnel/tunnelSettings.ts"

/** Tunnels that may roll their Machines to a new config at the same time (each one region at a time). */
const ROLLOUTS_AT_ONCE = 5

export interface ControllersOptions {
  readonly concurrency: number
  readonly resync: Duration.Input
  /** Set true once both controllers synced their caches and started their workers. */
  readonly synced?: Ref.Ref<boolean>
  /** The periodic orphan sweep; none when absent. */
  readonly sweep?: OrphanSweeperOptions
}

/** Both controllers (and the orphan sweep), side by side, until interrupted (in-flight reconciles then finish). */
export const runControllers = (options: ControllersOptions) =>
  Effect.scoped(
    Effect.gen(function* () {
      const tunnel = yield* makeTunnelController({ concurrency: options.concurrency, resync: options.resync })
      const service = yield* makeServiceController({ concurrency: options.concurrency })
      if (options.synced !== undefined) {
        const synced = options.synced
        yield* Effect.forkScoped(
          Effect.gen(function* () {
            while (!((yield* tunnel.isSynced) && (yield* service.isSynced))) yield* Effect.sleep("100 millis")
            yield* Ref.set(synced, true)
          }),
        )
      }
      const sweeper = options.sweep === undefined ? Effect.never : runOrphanSweeper(options.sweep)
      return yield* Effect.all([tunnel.run, service.run, sweeper], { concurrency: "unbounded", discard: true })
    }),
  )

export type OperatorLayerConfig = OperatorConfig & { readonly operatorNamespace: string }

/** Every service the controllers need, from the operator's settings. */
export const operatorLayer = (config: OperatorLayerConfig) =>
  Layer.mergeAll(
    EventRecorder.layer({ component: "fly-tunnel-operator", instance: hostname() }),
    KubeCache.layer({
      operatorNamespace: config.operatorNamespace,
      isManagedService: (service) => isManagedService(service, config.loadBalancerClass),
    }),
    Layer.succeed(TunnelSettings, {
      flyOrg: config.flyOrg,
      frpsImage: config.frpsImage || FRPS_IMAGE,
      frpcImage: config.frpcImage || FRPC_IMAGE,
      operatorNamespace: config.operatorNamespace,
      goOperatorNamespace: config.goOperatorNamespace || config.operatorNamespace,
    }),
    Layer.succeed(ServiceSettings, {
      loadBalancerClass: config.loadBalancerClass,
      defaultRegion: config.flyRegion,
      defaultMachineSize: config.flyMachineSize,
      adoptionEnabled: config.adoptionEnabled,
    }),
    RolloutGate.layer(ROLLOUTS_AT_ONCE),
    CapacityBackoff.layer,
    ClusterIdentity.layer(config.clusterId),
    FlyRegions.layer.pipe(
      Layer.provideMerge(FlyClient.layer({ baseUrl: config.flyApiBaseUrl, token: config.flyApiToken })),
    ),
    ClusterRanges.layer,
    HostResolver.layer,
    FrpsDialer.layer,
    Layer.succeed(TunnelPolicy, tunnelPolicyOf(config)),
  ).pipe(
    Layer.provideMerge(
      config.kubeconfig === "" ? KubeClient.layerDefault : KubeClient.layerFromFile(config.kubeconfig),
    ),
  )

/**
 * The operator: controllers under leader election (only the leader reconciles; a lost lease stops them and the
 * replica campaigns again), or directly when leader election is off. The cache runs in either case.
 */
export const runOperator = (config: OperatorLayerConfig, synced: Ref.Ref<boolean>) => {
  const controllers = runControllers({
    concurrency: config.concurrency,
    resync: `${config.resyncSeconds} seconds`,
    synced,
    sweep: { interval: `${config.sweepIntervalSeconds} seconds`, grace: `${config.sweepGraceSeconds} seconds` },
  })
  return config.leaderElect
    ? LeaderElection.run(
        {
          name: config.leaderElectionId,
          namespace: config.operatorNamespace,
          identity: `${hostname()}-${process.pid}`,
        },
        controllers.pipe(Effect.ensuring(Ref.set(synced, false))),
      )
    : controllers
}
