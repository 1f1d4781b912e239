// The fast tier's operator: both controllers in this process against the in-memory API server and the Fly emulator's
// API (in-process, machines without processes). No control plane, no frp: a reconcile's decisions in milliseconds,
// counted from the two call logs.
import { NodeHttpClient } from "@effect/platform-node"
import { type BucketLimit, FlyClient, flyRateLimits, RateBudget } from "@fly-tunnel-operator/fly"
import { type RunningEmulator, startEmulator } from "@fly-tunnel-operator/fly-emulator"
import { FRPC_IMAGE, FRPS_IMAGE } from "@fly-tunnel-operator/frp"
import { type Duration, Effect, Fiber, Layer, Logger, ManagedRuntime, Metric, Redacted } from "effect"
import { reconcileTotal } from "../../src/controller/controllerMetrics.ts"
import { ClusterIdentity } from "../../src/kube/clusterIdentity.ts"
import { ClusterRanges } from "../../src/kube/clusterRanges.ts"
import { EventRecorder } from "../../src/kube/eventRecorder.ts"
import { InMemoryKube, layerInMemoryKube } from "../../src/kube/inMemoryKube.ts"
import { KubeCache } from "../../src/kube/kubeCache.ts"
import { KubeClient } from "../../src/kube/kubeClient.ts"
import * as LeaderElection from "../../src/kube/leaderElection.ts"
import { runControllers } from "../../src/operator.ts"
import { HostResolver } from "../../src/policy/hostResolver.ts"
import { TunnelPolicy, type TunnelPolicyShape } from "../../src/policy/tunnelPolicy.ts"
import { isManagedService } from "../../src/service/serviceClass.ts"
import { ServiceSettings } from "../../src/service/serviceSettings.ts"
import type { OrphanSweeperOptions } from "../../src/sweep/orphanSweeper.ts"
import { CapacityBackoff } from "../../src/tunnel/capacityBackoff.ts"
import { FlyRegions } from "../../src/tunnel/flyRegions.ts"
import { FrpsDialer } from "../../src/tunnel/frpsDialer.ts"
import { RolloutGate } from "../../src/tunnel/machineRollout.ts"
import { TunnelSettings } from "../../src/tunnel/tunnelSettings.ts"

export const LOAD_BALANCER_CLASS = "fly-tunnel-operator.dev/lb"
export const OPERATOR_NAMESPACE = "fly-tunnel-operator"

type Services =
  | KubeClient
  | InMemoryKube
  | KubeCache
  | FlyClient
  | FlyRegions
  | RolloutGate
  | CapacityBackoff
  | EventRecorder
  | TunnelSettings
  | ServiceSettings
  | ClusterIdentity
  | ClusterRanges
  | HostResolver
  | FrpsDialer

export interface FastOperator {
  readonly emulator: RunningEmulator
  readonly kube: InMemoryKube["Service"]
  /** Runs an effect with the operator's services. */
  readonly run: <A, E>(effect: Effect.Effect<A, E, Services>) => Promise<A>
  /** Reconciles a controller has run so far, whatever their result. */
  readonly reconciles: (controller: "service" | "tunnel") => Promise<number>
  /** Starts (or restarts) the controllers; the in-memory cluster and the emulator persist across restarts. */
  readonly startControllers: () => void
  readonly stopControllers: () => Promise<void>
  readonly close: () => Promise<void>
}

export interface FastOperatorOptions {
  readonly resync?: Duration.Input
  readonly rollOutDeployments?: boolean
  /** Whether Machines' checks start out passing (default true); a test marks them later otherwise. */
  readonly checksPassing?: boolean
  /**
   * Fly's rate limits enforced by the emulator (429) and paced by the client's budget, App creation at this rate
   * instead of Fly's 1 a second (so a test sees the pacing in a fraction of the time). Default: no limits at all.
   */
  readonly createAppLimit?: BucketLimit
  /** Tunnels that may roll their Machines at once (default 5, as the operator). */
  readonly rolloutsAtOnce?: number
  /** The periodic orphan sweep (off by default). */
  readonly sweep?: OrphanSweeperOptions
  /** A Fly shared with another operator (another cluster); by default this operator's own (its options apply). */
  readonly emulator?: RunningEmulator
  /** A cluster shared with another replica; by default this operator's own. */
  readonly kube?: InMemoryKube["Service"]
  /** The chart's `adoption.enabled` (off by default, as in the chart). */
  readonly adoptionEnabled?: boolean
  /** Where the Go operator's frpc objects are (default: the operator's namespace). */
  readonly goOperatorNamespace?: string
  /** Run the controllers under leader election (short timings, for replicas sharing `kube`). */
  readonly leaderElection?: Omit<LeaderElection.LeaderElectionOptions, "name" | "namespace">
  /** The install's tunnel policy (default: the chart's defaults). */
  readonly policy?: TunnelPolicyShape
  /** What host names resolve to (default: none resolves); tests may change it between passes. */
  readonly hosts?: ReadonlyMap<string, ReadonlyArray<string>>
}

export const startFastOperator = async (options: FastOperatorOptions = {}): Promise<FastOperator> => {
  const ownEmulator = options.emulator === undefined
  const emulator = options.emulator ?? (await startEmulator({ rateLimits: options.createAppLimit !== undefined }))
  if (ownEmulator && options.createAppLimit !== undefined)
    await emulator.setRateLimits({ rules: { createApp: options.createAppLimit } })
  // No frps runs in the fast tier, so nothing can be probed: Machines' checks are declared passing, as if frpc had
  // registered every port (a test may mark them otherwise).
  if (ownEmulator && options.checksPassing !== false) await emulator.markChecks({ status: "passing" })
  const budget =
    options.createAppLimit === undefined
      ? RateBudget.layerUnlimited
      : RateBudget.layerWith({
          ...flyRateLimits,
          byEndpoint: { ...flyRateLimits.byEndpoint, createApp: options.createAppLimit },
        })
  const runtime = ManagedRuntime.make(
    Layer.mergeAll(
      EventRecorder.layer({ component: "fly-tunnel-operator", instance: "fast", patchInterval: "0 millis" }),
      KubeCache.layer({
        operatorNamespace: OPERATOR_NAMESPACE,
        isManagedService: (service) => isManagedService(service, LOAD_BALANCER_CLASS),
      }),
      Layer.succeed(TunnelSettings, {
        flyOrg: "personal",
        frpsImage: FRPS_IMAGE,
        frpcImage: FRPC_IMAGE,
        operatorNamespace: OPERATOR_NAMESPACE,
        certificatePoll: "50 millis",
        goOperatorNamespace: options.goOperatorNamespace ?? OPERATOR_NAMESPACE,
      }),
      Layer.succeed(ServiceSettings, {
        loadBalancerClass: LOAD_BALANCER_CLASS,
        defaultRegion: "ord",
        defaultMachineSize: "shared-cpu-1x",
        adoptionEnabled: options.adoptionEnabled ?? false,
      }),
      FlyClient.layerNoDeps({
        baseUrl: emulator.baseUrl,
        token: Redacted.make(emulator.token),
        retry: { maxRetries: 2, baseDelay: "5 millis", maxDelay: "20 millis" },
        // Short, so an injected hang costs a test a moment, not the default half minute.
        requestTimeout: "400 millis",
      }).pipe(Layer.provide(NodeHttpClient.layerNodeHttp), Layer.provide(budget), (client) =>
        FlyRegions.layer.pipe(Layer.provideMerge(client)),
      ),
      RolloutGate.layer(options.rolloutsAtOnce ?? 5),
      CapacityBackoff.layer,
      // As the operator: this (in-memory) cluster's kube-system UID.
      ClusterIdentity.layer("").pipe(Layer.orDie),
      ClusterRanges.layer,
      HostResolver.layerTable(options.hosts ?? new Map()),
      // The in-memory Fly runs no frps, and its public addresses lead off this host.
      FrpsDialer.layerNothingListens,
      ...(options.policy === undefined ? [] : [Layer.succeed(TunnelPolicy, options.policy)]),
      Logger.layer([]),
    ).pipe(
      Layer.provideMerge(
        options.kube === undefined
          ? layerInMemoryKube({ rollOutDeployments: options.rollOutDeployments ?? true })
          : Layer.mergeAll(Layer.succeed(InMemoryKube, options.kube), Layer.succeed(KubeClient, options.kube.client)),
      ),
    ),
  )
  const kube = await runtime.runPromise(InMemoryKube)
  let controllers: Fiber.Fiber<void, unknown> | undefined
  return {
    emulator,
    kube,
    run: (effect) => runtime.runPromise(effect),
    reconciles: (controller) =>
      runtime.runPromise(
        Effect.forEach(["success", "requeue", "requeue_after", "error"], (result) =>
          Metric.value(Metric.withAttributes(reconcileTotal, { controller, result })),
        ).pipe(Effect.map((states) => states.reduce((sum, state) => sum + state.count, 0))),
      ),
    startControllers: () => {
      if (controllers !== undefined) throw new Error("controllers already running")
      const run = runControllers({
        concurrency: 2,
        resync: options.resync ?? "1 hour",
        ...(options.sweep === undefined ? {} : { sweep: options.sweep }),
      })
      controllers = runtime.runFork(
        options.leaderElection === undefined
          ? run
          : LeaderElection.run(
              { name: "fly-tunnel-operator", namespace: OPERATOR_NAMESPACE, ...options.leaderElection },
              run,
            ),
      )
    },
    stopControllers: async () => {
      const fiber = controllers
      controllers = undefined
      if (fiber !== undefined) await runtime.runPromise(Fiber.interrupt(fiber))
    },
    close: async () => {
      const fiber = controllers
      controllers = undefined
      if (fiber !== undefined) await runtime.runPromise(Fiber.interrupt(fiber))
      await runtime.dispose()
      if (ownEmulator) await emulator.close()
    },
  }
}

/** Polls `check` until it returns a value (not undefined), or fails after `timeoutMs` naming what it waited for. */
export const until = async <A>(
  what: string,
  check: () => A | undefined | Promise<A | undefined>,
  timeoutMs = 8_000,
) => {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    const value = await check()
    if (value !== undefined) return value
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  throw new Error(`timed out waiting for ${what}`)
}
