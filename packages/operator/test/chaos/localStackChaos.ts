// The local-stack chaos mode: two operator processes under leader election against a real control plane, real frps
// Machines and real frpc Pods; `kill -9` and graceful stops of the leader. Tens of runs, one stack for all of them.
import { execFile } from "node:child_process"
import { mkdir, writeFile } from "node:fs/promises"
import { fileURLToPath } from "node:url"
import {
  type ControlPlaneEndpoint,
  deployOperator,
  type LocalStack,
  type OperatorDeployment,
  type OperatorProcess,
  startLocalStack,
  type Tools,
} from "@fly-tunnel-operator/local-stack"
import type { V1Deployment, V1Secret, V1Service } from "@kubernetes/client-node"
import type { FlyTunnelObject } from "../../src/kube/resourceType.ts"
import { type ClusterView, duplicateCreates, leaks, unconverged } from "./chaosInvariants.ts"
import { type ChaosPort, type ChaosStep, chaosAnnotations, servicePort } from "./chaosPlan.ts"
import type { ChaosRunResult } from "./chaosReport.ts"

const OPERATOR_NAMESPACE = "fto-chaos"
const LOAD_BALANCER_CLASS = "fly-tunnel-operator.dev/lb"

const DIAGNOSES = fileURLToPath(new URL("../../../../.bench/chaos-diagnoses/", import.meta.url))

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

export interface LocalStackChaos {
  readonly run: (seed: number, steps: ReadonlyArray<ChaosStep>) => Promise<ChaosRunResult>
  readonly close: () => Promise<void>
}

/** One stack (and the operator's RBAC) for every run; each run gets its own namespace, replicas and a reset Fly. */
export const openLocalStackChaos = async (options: {
  readonly tools: Tools
  readonly controlPlane?: ControlPlaneEndpoint
}): Promise<LocalStackChaos> => {
  const stack: LocalStack = await startLocalStack({
    tools: options.tools,
    ...(options.controlPlane ? { controlPlane: options.controlPlane } : {}),
  })
  const deployment: OperatorDeployment = await deployOperator(stack, {
    tools: options.tools,
    namespace: OPERATOR_NAMESPACE,
  })
  const kubectl = (args: ReadonlyArray<string>, input?: string) =>
    new Promise<string>((resolve, reject) => {
      const child = execFile(
        options.tools.kubectl,
        ["--kubeconfig", stack.controlPlane.kubeconfigPath, ...args],
        { maxBuffer: 64 * 1024 * 1024 },
        (error, stdout, stderr) =>
          error ? reject(new Error(`kubectl ${args.join(" ")}: ${stderr.trim() || error.message}`)) : resolve(stdout),
      )
      if (input !== undefined) child.stdin?.end(input)
    })
  const items = async <A>(args: ReadonlyArray<string>) =>
    (JSON.parse(await kubectl([...args, "-o", "json"])) as { items: Array<A> }).items

  const run = async (seed: number, steps: ReadonlyArray<ChaosStep>): Promise<ChaosRunResult> => {
    const started = Date.now()
    const namespace = `chaos-${seed}`
    await stack.emulator.reset()
    await kubectl(["create", "namespace", namespace])
    const service = (
      name: string,
      ports: ReadonlyArray<ChaosPort>,
      regions: ReadonlyArray<string>,
      hostnames: ReadonlyArray<string>,
    ) =>
      JSON.stringify({
        apiVersion: "v1",
        kind: "Service",
        metadata: { name, namespace, annotations: chaosAnnotations(regions, hostnames) },
        spec: {
          type: "LoadBalancer",
          loadBalancerClass: LOAD_BALANCER_CLASS,
          ports: ports.map(servicePort),
        },
      })
    const view = async (): Promise<ClusterView> => ({
      services: await items<V1Service>(["-n", namespace, "get", "services"]),
      tunnels: await items<FlyTunnelObject>(["get", "flytunnels", "--all-namespaces"]),
      frpcDeployments: await items<V1Deployment>(["-n", OPERATOR_NAMESPACE, "get", "deployments"]),
      frpcSecrets: (await items<V1Secret>(["-n", OPERATOR_NAMESPACE, "get", "secrets"])).filter(
        // A tunnel's own Secret carries its UID; the operator's CA Secret outlives every tunnel, by design.
        (secret) => secret.metadata?.labels?.["fly-tunnel-operator.dev/tunnel-uid"] !== undefined,
      ),
    })
    const settle = async (problems: () => Promise<ReadonlyArray<string>>, timeoutMs: number) => {
      const deadline = Date.now() + timeoutMs
      let last = await problems()
      while (last.length > 0 && Date.now() < deadline) {
        await sleep(1000)
        last = await problems()
      }
      return last
    }

    /**
     * What a run that did not converge or leaked leaves to read: each stuck tunnel's status, its Machines as Fly holds them
     * (state, checks, config metadata), the frpc Deployments' rollout and the replicas' last log lines.
     */
    const diagnose = async (seed: number, stuck: ReadonlyArray<string>) => {
      const state = await stack.emulator.state()
      const cluster = await view()
      const names = stuck.map((problem) => problem.split(":")[0] ?? "")
      const tunnels = cluster.tunnels.filter((tunnel) => names.includes(tunnel.metadata?.name ?? ""))
      const apps = new Set([
        ...tunnels.map((tunnel) => tunnel.status?.app?.name),
        ...stuck.flatMap((problem) => (problem.startsWith("App ") ? [problem.slice(4)] : [])),
      ])
      const uids = new Set(tunnels.map((tunnel) => tunnel.metadata?.uid))
      await mkdir(DIAGNOSES, { recursive: true })
      const file = `${DIAGNOSES}${seed}.json`
      await writeFile(
        file,
        JSON.stringify(
          {
            seed,
            stuck,
            tunnels: tunnels.map((tunnel) => ({ spec: tunnel.spec, status: tunnel.status })),
            machines: state.machines
              .filter((machine) => apps.has(machine.app))
              .map(({ config, ...machine }) => ({ ...machine, metadata: config.metadata, services: config.services })),
            frpc: cluster.frpcDeployments
              .filter((deployment) => uids.has(deployment.metadata?.labels?.["fly-tunnel-operator.dev/tunnel-uid"]))
              .map((deployment) => ({
                name: deployment.metadata?.name,
                generation: deployment.metadata?.generation,
                annotations: deployment.metadata?.annotations,
                status: deployment.status,
              })),
            calls: state.calls.filter((call) => apps.has(call.app)).slice(-80),
            logs: replicas.map((replica) => ({ pid: replica.pid, last: replica.output().slice(-150) })),
          },
          null,
          2,
        ),
      )
      console.error(`[chaos] seed ${seed}: ${stuck.length} problems; diagnosis in ${file}`)
    }

    const replicas: Array<OperatorProcess> = []
    const spawn = async () => replicas.push(await deployment.start({ leaderElect: true }))
    const leader = async () => {
      const holder = (await kubectl([
        "-n",
        OPERATOR_NAMESPACE,
        "get",
        "lease",
        "fly-tunnel-operator",
        "-o",
        "jsonpath={.spec.holderIdentity}",
      ]).catch(() => "")) as string
      return replicas.find((replica) => holder.endsWith(`-${replica.pid}`)) ?? replicas[0]
    }
    const faults: Array<string> = []
    try {
      await spawn()
      await spawn()
      for (const step of steps) {
        switch (step.kind) {
          case "create":
            await kubectl(["apply", "-f", "-"], service(step.service, step.ports, step.regions, step.hostnames))
            break
          case "ports":
            await kubectl([
              "-n",
              namespace,
              "patch",
              "service",
              step.service,
              "--type=merge",
              "-p",
              JSON.stringify({
                spec: { ports: step.ports.map(servicePort) },
              }),
            ])
            break
          case "regions":
            await kubectl([
              "-n",
              namespace,
              "annotate",
              "--overwrite",
              "service",
              step.service,
              `fly-tunnel-operator.dev/fly-regions=${step.regions.join(",")}`,
            ])
            break
          case "delete":
            await kubectl(["-n", namespace, "delete", "service", step.service, "--wait=false"])
            break
          case "fault":
            await stack.emulator.injectFault(step.fault)
            faults.push(
              `${step.fault.kind}${"status" in step.fault ? ` ${step.fault.status}` : ""} on ${step.fault.action}`,
            )
            break
          case "kill":
          case "leaderChange": {
            const current = await leader()
            if (current === undefined) break
            replicas.splice(replicas.indexOf(current), 1)
            if (step.kind === "kill") await current.kill()
            else await current.stop(30_000)
            await spawn()
            break
          }
          case "wait":
            await sleep(step.ms)
            break
        }
      }

      await stack.emulator.clearFaults()
      const stuck = await settle(async () => unconverged(steps, await stack.emulator.state(), await view()), 180_000)
      if (stuck.length > 0) await diagnose(seed, stuck)
      const duplicates = duplicateCreates(steps, await stack.emulator.state())
      await kubectl(["-n", namespace, "delete", "services", "--all", "--wait=false"])
      const left = await settle(async () => leaks(await stack.emulator.state(), await view()), 180_000)
      if (left.length > 0) await diagnose(seed, left)
      return {
        seed,
        mode: "local-stack",
        steps: steps.length,
        faults,
        duplicates: [...duplicates],
        leaks: [...left],
        unconverged: [...stuck],
        ms: Date.now() - started,
      }
    } finally {
      await Promise.all(replicas.map((replica) => replica.stop()))
      await kubectl(["delete", "namespace", namespace, "--wait=false"]).catch(() => "")
    }
  }

  return { run, close: () => stack.stop() }
}
