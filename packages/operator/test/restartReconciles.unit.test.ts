import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { FieldManager, KubeClient } from "../src/kube/kubeClient.ts"
import { KubeUnavailable } from "../src/kube/kubeErrors.ts"
import { Deployment, FlyTunnel, Service } from "../src/kube/resourceType.ts"
import {
  type FastOperator,
  LOAD_BALANCER_CLASS,
  OPERATOR_NAMESPACE,
  startFastOperator,
  until,
} from "./support/fastHarness.ts"

const TUNNELS = 100

/**
 * An operator restart over tunnels that are all converged: every tunnel's sources (the FlyTunnel, its frpc Deployment,
 * its target Service) report it at start-up, and those reports collapse into one pending key before the workers start
 * (client-go's handler sync), so each tunnel is reconciled once — not a second time for a report that came late.
 */
describe("an operator restart (fast tier)", () => {
  let first: FastOperator
  let restarted: FastOperator | undefined

  const ready = () =>
    first.kube.objects(FlyTunnel, "default").filter((tunnel) => tunnel.status?.phase === "Ready").length

  beforeAll(async () => {
    first = await startFastOperator()
    first.startControllers()
    await first.run(
      Effect.forEach(
        Array.from({ length: TUNNELS }, (_, index) => `web-${index}`),
        (name, index) =>
          KubeClient.use((kube) =>
            kube.create(Service, {
              metadata: { name, namespace: "default" },
              spec: {
                type: "LoadBalancer",
                loadBalancerClass: LOAD_BALANCER_CLASS,
                clusterIP: `10.96.${Math.floor(index / 200) + 1}.${(index % 200) + 1}`,
                ports: [{ name: "http", port: 8080, protocol: "TCP" }],
              },
            }),
          ),
        { discard: true },
      ).pipe(Effect.provideService(FieldManager, "test")),
    )
    await until("every tunnel Ready", () => (ready() === TUNNELS ? true : undefined), 30_000)
  }, 60_000)
  afterAll(async () => {
    await restarted?.close()
    await first.close()
  })

  it("reconciles each converged tunnel exactly once, with its frpc Deployment and target Service", async () => {
    expect(first.kube.objects(Deployment, OPERATOR_NAMESPACE)).toHaveLength(TUNNELS)
    await first.stopControllers()
    const flyBefore = (await first.emulator.state()).calls.length
    // A new process: its controllers subscribe while its informers' first lists are still out (here each list fails
    // and is retried after the informer's backoff), and the Services' list, the largest, comes in last.
    for (const kind of ["FlyTunnel", "Service", "Deployment"]) {
      first.kube.inject({
        verb: "list",
        kind,
        times: kind === "Service" ? 2 : 1,
        error: new KubeUnavailable({ request: `LIST ${kind}`, message: "slow" }),
      })
    }
    restarted = await startFastOperator({ kube: first.kube, emulator: first.emulator })
    const operator = restarted
    const reconcilesBefore = await operator.reconciles("tunnel")
    operator.startControllers()
    await until("every tunnel reconciled after the restart", async () =>
      (await operator.reconciles("tunnel")) >= reconcilesBefore + TUNNELS ? true : undefined,
    )
    // Late reports would cost their passes right away (nothing else is pending); give them time to show.
    await new Promise((resolve) => setTimeout(resolve, 1_000))
    expect((await operator.reconciles("tunnel")) - reconcilesBefore).toBe(TUNNELS)
    // One pass's reads on each tunnel's App, none more: each key was reconciled once.
    const flyCalls = (await first.emulator.state()).calls.slice(flyBefore)
    expect(flyCalls.filter((call) => call.method !== "GET")).toEqual([])
    for (const tunnel of first.kube.objects(FlyTunnel, "default")) {
      const app = tunnel.status?.app?.name
      const reads = flyCalls.filter((call) => call.app === app).map((call) => call.action)
      expect(reads.sort(), tunnel.metadata?.name).toEqual(["getApp", "listIpAssignments", "listMachines"])
    }
  })
})
