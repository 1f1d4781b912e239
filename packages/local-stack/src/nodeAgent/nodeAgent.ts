import { mkdir, mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { operatorEntrypoint } from "@fly-tunnel-operator/operator"
import {
  CoreV1Api,
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  type V1Pod,
  type V1PodCondition,
  Watch,
} from "@kubernetes/client-node"
import { type ContainerState, PodProcess, restartPolicyOf } from "./podProcess.ts"
import { materializeVolumes, resolveContainer } from "./podSpecResolution.ts"
import { serviceAccountKubeconfigFor } from "./serviceAccountCredentials.ts"

export interface NodeAgentOptions {
  readonly kubeconfigPath: string
  /** The real frpc binary that frpc images run as. */
  readonly frpcPath: string
  readonly nodeName?: string
  /** Address reported as the Node's and its Pods' IP; processes run in the host's network. */
  readonly address?: string
  readonly log?: (line: string) => void
}

export interface NodeAgent {
  readonly nodeName: string
  /** Log file of a Pod's container process (frpc output), for tests and debugging. */
  readonly logFile: (namespace: string, pod: string) => string
  readonly stop: () => Promise<void>
}

const mergePatch = setHeaderOptions("Content-Type", PatchStrategy.MergePatch)

/** An image this agent can run, and the host program that stands in for its entrypoint. */
interface RunnableImage {
  readonly entrypoint: ReadonlyArray<string>
  /** What a container `command` may name; absent: only the image's entrypoint. */
  readonly command?: RegExp
  /** The program talks to the API server as its Pod's ServiceAccount (KUBECONFIG, see serviceAccountCredentials). */
  readonly serviceAccount: boolean
}

/** frpc (the tunnels' clients) and the operator's own image (its Deployment, and the chart's uninstall hook). */
const runnableImage = (image: string, frpcPath: string): RunnableImage | undefined => {
  if (/(^|\/)frpc([:@]|$)/.test(image)) {
    return { entrypoint: [frpcPath], command: /(^|\/)frpc$/, serviceAccount: false }
  }
  if (/(^|\/)fly-tunnel-operator([:@]|$)/.test(image)) {
    return { entrypoint: [process.execPath, operatorEntrypoint], serviceAccount: true }
  }
  return undefined
}

const condition = (type: string, ready: boolean, reason?: string, message?: string): V1PodCondition => ({
  type,
  status: ready ? "True" : "False",
  lastTransitionTime: new Date(),
  ...(reason === undefined ? {} : { reason }),
  ...(message === undefined ? {} : { message }),
})

/**
 * Stands in for the kubelet, in the spirit of a virtual kubelet: registers a Node, runs the Pods bound to it whose
 * image is frpc as real frpc processes and those of the operator's image as the operator's program, and reports
 * their status, so Deployment readiness and Job completion come from the real controllers. Pods of other images stay
 * Pending with reason UnsupportedImage.
 */
export const startNodeAgent = async (options: NodeAgentOptions): Promise<NodeAgent> => {
  const kubeConfig = new KubeConfig()
  kubeConfig.loadFromFile(options.kubeconfigPath)
  const core = kubeConfig.makeApiClient(CoreV1Api)
  const nodeName = options.nodeName ?? "fto-local-node"
  const address = options.address ?? "127.0.0.1"
  const log = options.log ?? (() => {})
  const root = await mkdtemp(join(tmpdir(), "fto-node-agent-"))
  const processes = new Map<string, { readonly process: PodProcess | undefined; readonly pod: V1Pod }>()
  let stopped = false

  const readyConditions = [
    {
      type: "Ready",
      status: "True",
      lastHeartbeatTime: new Date(),
      reason: "NodeAgentReady",
      message: "local node agent is running",
    },
  ]
  await core
    .createNode({
      body: {
        metadata: { name: nodeName, labels: { "kubernetes.io/hostname": nodeName, "kubernetes.io/os": "linux" } },
      },
    })
    .catch((error: { code?: number }) => {
      if (error.code !== 409) throw error
    })
  // Node status only: the local control plane's node-lifecycle grace is a year, so no node Lease is kept.
  const heartbeat = async () => {
    const now = new Date()
    await core.patchNodeStatus(
      {
        name: nodeName,
        body: {
          status: {
            conditions: readyConditions.map((c) => ({ ...c, lastHeartbeatTime: now, lastTransitionTime: now })),
            capacity: { cpu: "16", memory: "32Gi", pods: "250" },
            allocatable: { cpu: "16", memory: "32Gi", pods: "250" },
            addresses: [{ type: "InternalIP", address }],
            nodeInfo: {
              architecture: process.arch,
              operatingSystem: "linux",
              kubeletVersion: "fto-node-agent",
              kubeProxyVersion: "",
              containerRuntimeVersion: "process://",
              bootID: "",
              kernelVersion: "",
              machineID: "",
              osImage: "",
              systemUUID: "",
            },
          },
        },
      },
      mergePatch,
    )
  }
  await heartbeat()
  const heartbeatTimer = setInterval(
    () => void heartbeat().catch((error) => log(`heartbeat: ${String(error)}`)),
    10_000,
  )

  const key = (pod: V1Pod) => `${pod.metadata?.namespace}/${pod.metadata?.name}`
  const podDir = (namespace: string, name: string) => join(root, namespace, name)
  const logFile = (namespace: string, name: string) => join(podDir(namespace, name), "container.log")

  const patchStatus = (pod: V1Pod, status: object) =>
    core
      .patchNamespacedPodStatus(
        { name: pod.metadata?.name ?? "", namespace: pod.metadata?.namespace ?? "", body: { status } },
        mergePatch,
      )
      .catch((error: unknown) => log(`status of ${key(pod)}: ${String(error)}`))

  const reportPending = (pod: V1Pod, reason: string, message: string) =>
    patchStatus(pod, {
      phase: "Pending",
      hostIP: address,
      conditions: [condition("PodScheduled", true), condition("Ready", false, reason, message)],
      containerStatuses: (pod.spec?.containers ?? []).map((container) => ({
        name: container.name,
        image: container.image ?? "",
        imageID: "",
        ready: false,
        restartCount: 0,
        state: { waiting: { reason, message } },
      })),
    })

  const reportContainer = (pod: V1Pod, state: ContainerState) => {
    const [container] = pod.spec?.containers ?? []
    if (state.finishedAt !== undefined) {
      // A Job's Pod: its phase and exit code are what the Job controller counts.
      const succeeded = state.lastExitCode === 0
      const reason = succeeded ? "Completed" : "Error"
      void patchStatus(pod, {
        phase: succeeded ? "Succeeded" : "Failed",
        hostIP: address,
        podIP: address,
        podIPs: [{ ip: address }],
        startTime: state.startedAt,
        conditions: [
          condition("PodScheduled", true),
          condition("Initialized", true),
          condition("ContainersReady", false, "PodCompleted"),
          condition("Ready", false, "PodCompleted"),
        ],
        containerStatuses: [
          {
            name: container?.name ?? "",
            image: container?.image ?? "",
            imageID: container?.image ?? "",
            ready: false,
            started: false,
            restartCount: state.restartCount,
            state: {
              terminated: {
                exitCode: state.lastExitCode ?? -1,
                reason,
                startedAt: state.startedAt,
                finishedAt: state.finishedAt,
              },
            },
          },
        ],
      })
      return
    }
    void patchStatus(pod, {
      phase: "Running",
      hostIP: address,
      podIP: address,
      podIPs: [{ ip: address }],
      startTime: state.startedAt,
      conditions: ["PodScheduled", "Initialized", "ContainersReady", "Ready"].map((type) =>
        type === "PodScheduled" || type === "Initialized"
          ? condition(type, true)
          : condition(type, state.running, state.running ? undefined : "ContainerExited"),
      ),
      containerStatuses: [
        {
          name: container?.name ?? "",
          image: container?.image ?? "",
          imageID: container?.image ?? "",
          ready: state.running,
          started: state.running,
          restartCount: state.restartCount,
          state: state.running
            ? { running: { startedAt: state.startedAt } }
            : { waiting: { reason: "CrashLoopBackOff", message: `exited with code ${state.lastExitCode}` } },
        },
      ],
    })
  }

  const runPod = async (pod: V1Pod) => {
    const namespace = pod.metadata?.namespace ?? "default"
    const name = pod.metadata?.name ?? ""
    const containers = pod.spec?.containers ?? []
    const [container] = containers
    const image = runnableImage(container?.image ?? "", options.frpcPath)
    if (container === undefined || containers.length !== 1 || image === undefined) {
      processes.set(key(pod), { process: undefined, pod })
      await reportPending(
        pod,
        "UnsupportedImage",
        "the local node agent runs only single-container frpc and fly-tunnel-operator Pods",
      )
      return
    }
    if (pod.status?.phase === "Succeeded" || pod.status?.phase === "Failed") {
      // Finished before this agent saw it (a restart): never run again.
      processes.set(key(pod), { process: undefined, pod })
      return
    }
    try {
      const dir = podDir(namespace, name)
      await mkdir(dir, { recursive: true })
      const volumes = await materializeVolumes(core, pod, dir)
      const withAccount = image.serviceAccount && pod.spec?.automountServiceAccountToken !== false
      const resolved = await resolveContainer(core, pod, container, {
        entrypoint: image.entrypoint,
        ...(image.command === undefined ? {} : { command: image.command }),
        volumes,
        nodeName,
        podIp: address,
        ...(withAccount
          ? { extraEnv: { KUBECONFIG: await serviceAccountKubeconfigFor(core, kubeConfig, pod, dir) } }
          : {}),
      })
      if (stopped || processes.has(key(pod))) return
      const restartPolicy = restartPolicyOf(pod.spec?.restartPolicy)
      processes.set(key(pod), {
        pod,
        process: new PodProcess(
          resolved,
          logFile(namespace, name),
          (state) => reportContainer(pod, state),
          restartPolicy,
        ),
      })
      log(`started ${key(pod)}`)
    } catch (error) {
      // Like a kubelet waiting for a missing Secret: stay Pending and retry on the next Pod event or resync.
      await reportPending(pod, "CreateContainerConfigError", error instanceof Error ? error.message : String(error))
    }
  }

  const stopPod = async (pod: V1Pod) => {
    const entry = processes.get(key(pod))
    processes.delete(key(pod))
    await entry?.process?.stop()
    await rm(podDir(pod.metadata?.namespace ?? "", pod.metadata?.name ?? ""), { recursive: true, force: true })
  }

  const handle = async (phase: string, pod: V1Pod) => {
    if (stopped) return
    if (phase === "DELETED") return stopPod(pod)
    if (pod.metadata?.deletionTimestamp !== undefined) {
      await stopPod(pod)
      // The kubelet's final word: the Pod is gone once its containers are.
      await core
        .deleteNamespacedPod({
          name: pod.metadata.name ?? "",
          namespace: pod.metadata.namespace ?? "",
          gracePeriodSeconds: 0,
        })
        .catch(() => {})
      return
    }
    if (!processes.has(key(pod))) await runPod(pod)
  }

  let abort: AbortController | undefined
  let pending = Promise.resolve()
  const watch = async (): Promise<void> => {
    if (stopped) return
    abort = await new Watch(kubeConfig).watch(
      "/api/v1/pods",
      { fieldSelector: `spec.nodeName=${nodeName}` },
      (phase, pod: V1Pod) => {
        pending = pending.then(() => handle(phase, pod)).catch((error) => log(`pod ${key(pod)}: ${String(error)}`))
      },
      () => {
        if (!stopped) setTimeout(() => void watch().catch((error) => log(`watch: ${String(error)}`)), 1_000)
      },
    )
  }
  await watch()
  log(`node agent registered node ${nodeName}`)

  return {
    nodeName,
    logFile,
    stop: async () => {
      stopped = true
      clearInterval(heartbeatTimer)
      abort?.abort()
      await pending
      await Promise.all([...processes.values()].map((entry) => entry.process?.stop()))
      processes.clear()
      await core.deleteNode({ name: nodeName }).catch(() => {})
      await rm(root, { recursive: true, force: true })
    },
  }
}
