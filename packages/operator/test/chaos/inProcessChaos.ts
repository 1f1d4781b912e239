// The fast chaos mode: operator replicas in this process, under leader election on the in-memory API server, against
// the emulator's API (Machines without processes). Hundreds of runs in minutes.
import { startEmulator } from "@fly-tunnel-operator/fly-emulator"
import type { V1Service } from "@kubernetes/client-node"
import { Effect } from "effect"
import { type InMemoryKube, makeInMemoryKube } from "../../src/kube/inMemoryKube.ts"
import { FieldManager } from "../../src/kube/kubeClient.ts"
import { kubeMicroTime } from "../../src/kube/kubeTime.ts"
import { Deployment, FlyTunnel, Lease, Secret, Service } from "../../src/kube/resourceType.ts"
import {
  type FastOperator,
  LOAD_BALANCER_CLASS,
  OPERATOR_NAMESPACE,
  startFastOperator,
} from "../support/fastHarness.ts"
import { type ClusterView, duplicateCreates, leaks, unconverged } from "./chaosInvariants.ts"
import { type ChaosPort, type ChaosStep, chaosAnnotations, servicePort } from "./chaosPlan.ts"
import type { ChaosRunResult } from "./chaosReport.ts"

const NAMESPACE = "default"

const serviceOf = (
  name: string,
  ports: ReadonlyArray<ChaosPort>,
  regions: ReadonlyArray<string>,
  hostnames: ReadonlyArray<string>,
): V1Service => ({
  metadata: { name, namespace: NAMESPACE, annotations: chaosAnnotations(regions, hostnames) },
  spec: {
    type: "LoadBalancer",
    loadBalancerClass: LOAD_BALANCER_CLASS,
    clusterIP: "10.96.0.40",
    ports: ports.map(servicePort),
  },
})

const view = (kube: InMemoryKube["Service"]): ClusterView => ({
  services: kube.objects(Service, NAMESPACE),
  tunnels: kube.objects(FlyTunnel),
  frpcDeployments: kube.objects(Deployment, OPERATOR_NAMESPACE),
  // A tunnel's own Secret carries its UID; the operator's CA Secret outlives every tunnel, by design.
  frpcSecrets: kube
    .objects(Secret, OPERATOR_NAMESPACE)
    .filter((secret) => secret.metadata?.labels?.["fly-tunnel-operator.dev/tunnel-uid"] !== undefined),
})

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Polls `problems` until it finds none or `timeoutMs` passes; the last problems found. */
const settle = async (problems: () => Promise<ReadonlyArray<string>>, timeoutMs: number) => {
  const deadline = Date.now() + timeoutMs
  let last = await problems()
  while (last.length > 0 && Date.now() < deadline) {
    await sleep(50)
    last = await problems()
  }
  return last
}

/** Runs one planned sequence; resolves with what it found (it never throws for a finding). */
export const runInProcess = async (seed: number, steps: ReadonlyArray<ChaosStep>): Promise<ChaosRunResult> => {
  const started = Date.now()
  const fly = await startEmulator({ rateLimits: false })
  await fly.markChecks({ status: "passing" })
  const kube = await Effect.runPromise(makeInMemoryKube())
  const write = <A>(effect: Effect.Effect<A, unknown>) =>
    Effect.runPromise(effect.pipe(Effect.provideService(FieldManager, "chaos"), Effect.ignore))
  let spawned = 0
  const replicas: Array<{ readonly identity: string; readonly operator: FastOperator }> = []
  const spawn = async () => {
    spawned += 1
    const identity = `replica-${spawned}`
    const operator = await startFastOperator({
      emulator: fly,
      kube,
      // Short timings: a takeover after a crash costs a run two seconds, not fifteen.
      leaderElection: {
        identity,
        leaseDuration: "2 seconds",
        renewDeadline: "1200 millis",
        retryPeriod: "100 millis",
        settleAfterTakeover: "500 millis",
      },
    })
    operator.startControllers()
    replicas.push({ identity, operator })
  }
  const lease = () => kube.objects(Lease, OPERATOR_NAMESPACE)[0]
  const faults: Array<string> = []
  try {
    await spawn()
    await spawn()
    for (const step of steps) {
      switch (step.kind) {
        case "create":
          await write(kube.client.create(Service, serviceOf(step.service, step.ports, step.regions, step.hostnames)))
          break
        case "ports":
          await write(
            kube.client.mergePatch(Service, step.service, NAMESPACE, {
              spec: { ports: step.ports.map(servicePort) },
            }),
          )
          break
        case "regions":
          await write(
            kube.client.mergePatch(Service, step.service, NAMESPACE, {
              metadata: { annotations: { "fly-tunnel-operator.dev/fly-regions": step.regions.join(",") } },
            }),
          )
          break
        case "delete":
          await write(kube.client.delete(Service, step.service, NAMESPACE))
          break
        case "fault":
          await fly.injectFault(step.fault)
          faults.push(
            `${step.fault.kind}${"status" in step.fault ? ` ${step.fault.status}` : ""} on ${step.fault.action}`,
          )
          break
        case "kill":
        case "leaderChange": {
          const held = lease()
          const current = replicas.find((replica) => replica.identity === held?.spec?.holderIdentity) ?? replicas[0]
          if (current === undefined) break
          replicas.splice(replicas.indexOf(current), 1)
          await current.operator.close()
          // A process killed with -9 never gives its Lease up: put back what the stop released.
          const released = lease()
          if (step.kind === "kill" && held?.spec !== undefined && released !== undefined)
            await write(
              kube.client.replace(Lease, {
                ...released,
                spec: { ...held.spec, renewTime: kubeMicroTime(Date.now()) },
              }),
            )
          await spawn()
          break
        }
        case "wait":
          await sleep(step.ms)
          break
      }
    }

    // Fly answers again: everything alive converges and nothing was created twice.
    await fly.clearFaults()
    const stuck = await settle(async () => unconverged(steps, await fly.state(), view(kube)), 30_000)
    const duplicates = duplicateCreates(steps, await fly.state())
    for (const service of kube.objects(Service, NAMESPACE))
      await write(kube.client.delete(Service, service.metadata?.name ?? "", NAMESPACE))
    const left = await settle(async () => leaks(await fly.state(), view(kube)), 30_000)
    return {
      seed,
      mode: "in-process",
      steps: steps.length,
      faults,
      duplicates: [...duplicates],
      leaks: [...left],
      unconverged: [...stuck],
      ms: Date.now() - started,
    }
  } finally {
    for (const replica of replicas) await replica.operator.close()
    await fly.close()
  }
}
