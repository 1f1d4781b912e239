import { execFile } from "node:child_process"
import { randomBytes } from "node:crypto"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import { FlyClient } from "@fly-tunnel-operator/fly"
import { type RunningEmulator, startEmulator } from "@fly-tunnel-operator/fly-emulator"
import { FRPC_IMAGE, FRPS_IMAGE } from "@fly-tunnel-operator/frp"
import { type NodeAgent, startNodeAgent, type Tools } from "@fly-tunnel-operator/local-stack"
import { type Duration, type Effect, Exit, Fiber, Layer, Logger, ManagedRuntime, Redacted } from "effect"
import { ClusterIdentity } from "../../src/kube/clusterIdentity.ts"
import { ClusterRanges } from "../../src/kube/clusterRanges.ts"
import { EventRecorder } from "../../src/kube/eventRecorder.ts"
import { KubeCache } from "../../src/kube/kubeCache.ts"
import { KubeClient } from "../../src/kube/kubeClient.ts"
import * as ResourceType from "../../src/kube/resourceType.ts"
import { runControllers } from "../../src/operator.ts"
import { HostResolver } from "../../src/policy/hostResolver.ts"
import { isManagedService } from "../../src/service/serviceClass.ts"
import { ServiceSettings } from "../../src/service/serviceSettings.ts"
import { CapacityBackoff } from "../../src/tunnel/capacityBackoff.ts"
import { FlyRegions } from "../../src/tunnel/flyRegions.ts"
import { FrpsDialer } from "../../src/tunnel/frpsDialer.ts"
import { RolloutGate } from "../../src/tunnel/machineRollout.ts"
import { TunnelSettings } from "../../src/tunnel/tunnelSettings.ts"

const CRD = fileURLToPath(new URL("../../../../crds/fly-tunnel-operator.dev_flytunnels.yaml", import.meta.url))

export const run = promisify(execFile)

const LOAD_BALANCER_CLASS = "fly-tunnel-operator.dev/lb"

export interface HarnessOptions {
  readonly kubeconfigPath: string
  readonly tools: Tools
  /** Real frps Machines and Fly proxy (true) or state only (false). */
  readonly machineRuntime: boolean
  /** Drift-check period of the Tunnel controller (default 30 seconds). */
  readonly resync?: Duration.Input
  /** Labels of the operator's namespace, e.g. a Pod Security level it enforces. */
  readonly operatorNamespaceLabels?: Readonly<Record<string, string>>
}

type Services =
  | KubeClient
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

/**
 * One operator in this process against the local control plane and a Fly emulator, plus a node agent that runs the
 * frpc Pods. `startOperator`/`stopOperator` model a crash and a restart; the cluster and "Fly" persist between them.
 */
export class OperatorHarness {
  readonly namespace = `test-${randomBytes(3).toString("hex")}`
  readonly operatorNamespace = `fto-${randomBytes(3).toString("hex")}`
  readonly logs: Array<string> = []
  emulator!: RunningEmulator
  private agent!: NodeAgent
  private runtime!: ManagedRuntime.ManagedRuntime<Services, unknown>
  private operator: Fiber.Fiber<void, unknown> | undefined
  private readonly options: HarnessOptions

  constructor(options: HarnessOptions) {
    this.options = options
  }

  async start(): Promise<void> {
    const { kubeconfigPath, tools } = this.options
    await run(tools.kubectl, ["--kubeconfig", kubeconfigPath, "apply", "--server-side", "-f", CRD])
    await run(tools.kubectl, [
      "--kubeconfig",
      kubeconfigPath,
      "wait",
      "--for=condition=Established",
      "crd/flytunnels.fly-tunnel-operator.dev",
    ])
    for (const namespace of [this.namespace, this.operatorNamespace]) {
      await run(tools.kubectl, ["--kubeconfig", kubeconfigPath, "create", "namespace", namespace])
    }
    const labels = Object.entries(this.options.operatorNamespaceLabels ?? {}).map(([key, value]) => `${key}=${value}`)
    if (labels.length > 0) {
      await run(tools.kubectl, [
        "--kubeconfig",
        kubeconfigPath,
        "label",
        "namespace",
        this.operatorNamespace,
        ...labels,
      ])
    }
    this.emulator = await startEmulator(this.options.machineRuntime ? { frpsPath: tools.frps } : {})
    // Without the machine runtime no frps runs and nothing is probed: these tests assume frpc has
    // registered every port, so they declare every Machine's checks passing.
    if (!this.options.machineRuntime) await this.emulator.markChecks({ status: "passing" })
    this.agent = await startNodeAgent({
      kubeconfigPath,
      frpcPath: tools.frpc,
      nodeName: `node-${this.operatorNamespace}`,
    })
    const logger = Logger.make<unknown, void>((entry) => {
      this.logs.push(`${entry.logLevel} ${JSON.stringify(entry.message)}`)
    })
    this.runtime = ManagedRuntime.make(
      Layer.mergeAll(
        EventRecorder.layer({ component: "fly-tunnel-operator", instance: "test", patchInterval: "0 millis" }),
        KubeCache.layer({
          operatorNamespace: this.operatorNamespace,
          isManagedService: (service) => isManagedService(service, LOAD_BALANCER_CLASS),
        }),
        Layer.succeed(TunnelSettings, {
          flyOrg: "personal",
          frpsImage: FRPS_IMAGE,
          frpcImage: FRPC_IMAGE,
          operatorNamespace: this.operatorNamespace,
          goOperatorNamespace: this.operatorNamespace,
        }),
        Layer.succeed(ServiceSettings, {
          loadBalancerClass: LOAD_BALANCER_CLASS,
          defaultRegion: "ord",
          defaultMachineSize: "shared-cpu-1x",
          adoptionEnabled: false,
        }),
        FlyRegions.layer.pipe(
          Layer.provideMerge(
            FlyClient.layer({
              baseUrl: this.emulator.baseUrl,
              token: Redacted.make(this.emulator.token),
              retry: { maxRetries: 3, baseDelay: "50 millis", maxDelay: "500 millis" },
            }),
          ),
        ),
        RolloutGate.layer(5),
        CapacityBackoff.layer,
        ClusterIdentity.layer(""),
        ClusterRanges.layer,
        HostResolver.layer,
        // Without the machine runtime no frps answers, and Fly's public addresses lead off this host.
        this.options.machineRuntime ? FrpsDialer.layer : FrpsDialer.layerNothingListens,
        Logger.layer([logger]),
      ).pipe(Layer.provideMerge(KubeClient.layerFromFile(kubeconfigPath))),
    )
  }

  /** Runs an effect with the operator's services (the Kube client, the Fly client…). */
  runEffect<A, E>(effect: Effect.Effect<A, E, Services>): Promise<A> {
    return this.runtime.runPromise(effect)
  }

  startOperator(): void {
    if (this.operator !== undefined) throw new Error("operator already running")
    this.operator = this.runtime.runFork(
      runControllers({ concurrency: 2, resync: this.options.resync ?? "30 seconds" }),
    )
  }

  /** Stops the operator wherever it is (like a killed process, but in-flight reconciles are interrupted). */
  async stopOperator(): Promise<void> {
    const fiber = this.operator
    this.operator = undefined
    if (fiber !== undefined) {
      const exit = await this.runtime.runPromise(Fiber.interrupt(fiber).pipe((effect) => effect))
      void exit
    }
  }

  /** `kubectl apply --server-side` of one object, as the user "test" (which owns the fields it applies). */
  applyManifest(manifest: object): Promise<void> {
    return new Promise((resolve, reject) => {
      const child = execFile(
        this.options.tools.kubectl,
        ["--kubeconfig", this.options.kubeconfigPath, "apply", "--server-side", "--field-manager=test", "-f", "-"],
        (error) => (error ? reject(error) : resolve()),
      )
      child.stdin?.end(JSON.stringify(manifest))
    })
  }

  /** A FlyTunnel's data key of one region's frpc config, decoded. */
  async frpcConfig(tunnelUid: string, region: string): Promise<string> {
    const jsonPath = `jsonpath={.data.frpc-${region}\\.toml}`
    const { stdout } = await this.kubectl(
      "get",
      "secret",
      `frpc-${tunnelUid}`,
      "-n",
      this.operatorNamespace,
      "-o",
      jsonPath,
    )
    return Buffer.from(stdout, "base64").toString()
  }

  /** kubectl with `input` on stdin; rejects with kubectl's error output. */
  kubectlInput(args: ReadonlyArray<string>, input: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const child = execFile(
        this.options.tools.kubectl,
        ["--kubeconfig", this.options.kubeconfigPath, ...args],
        (error, stdout, stderr) => (error ? reject(new Error(stderr || error.message)) : resolve(stdout)),
      )
      child.stdin?.end(input)
    })
  }

  kubectl(...args: ReadonlyArray<string>): Promise<{ stdout: string; stderr: string }> {
    return run(this.options.tools.kubectl, ["--kubeconfig", this.options.kubeconfigPath, ...args])
  }

  async getJson<A>(
    type: ResourceType.ResourceType<ResourceType.KubeObject>,
    name: string,
    namespace: string,
  ): Promise<A | undefined> {
    const exit = await this.runtime.runPromiseExit(
      KubeClient.use((kube) => kube.get(type, name, namespace)) as Effect.Effect<unknown, unknown, Services>,
    )
    return Exit.isSuccess(exit) ? (exit.value as A) : undefined
  }

  frpcLog(pod: string): string {
    return this.agent.logFile(this.operatorNamespace, pod)
  }

  async stop(): Promise<void> {
    await this.stopOperator()
    await this.kubectl("delete", "namespace", this.namespace, "--wait=false").catch(() => {})
    await this.kubectl("delete", "namespace", this.operatorNamespace, "--wait=false").catch(() => {})
    await this.agent?.stop()
    await this.emulator?.close()
    await this.runtime?.dispose()
  }
}

export const ResourceTypes = ResourceType

export { eventually } from "@fly-tunnel-operator/testkit"
