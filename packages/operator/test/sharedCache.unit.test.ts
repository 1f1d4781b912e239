// The process's one cache (kube/kubeCache.ts): both controllers read the same informers, so the API server serves one
// watch per kind for the whole process — whichever controllers subscribe, and however often they stop and start again
// (leadership lost and won back), since the cache runs regardless of them. Counted from the in-memory API server's log.
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { FieldManager, KubeClient } from "../src/kube/kubeClient.ts"
import { Service } from "../src/kube/resourceType.ts"
import { type FastOperator, LOAD_BALANCER_CLASS, startFastOperator, until } from "./support/fastHarness.ts"

/** A Service of our class, created as a user would, and its published address once the tunnel is Ready. */
const publish = async (operator: FastOperator, name: string, clusterIP: string) => {
  await operator.run(
    KubeClient.use((kube) =>
      kube.create(Service, {
        metadata: { name, namespace: "default" },
        spec: {
          type: "LoadBalancer",
          loadBalancerClass: LOAD_BALANCER_CLASS,
          clusterIP,
          ports: [{ name: "http", port: 8080, protocol: "TCP" }],
        },
      }),
    ).pipe(Effect.provideService(FieldManager, "test")),
  )
  return until(`${name}'s address`, () => {
    const service = operator.kube.objects(Service, "default").find((item) => item.metadata?.name === name)
    return service?.status?.loadBalancer?.ingress?.[0]?.ip
  })
}

describe("the shared cache (fast tier)", () => {
  it("serves both controllers, across a restart of the controllers, with one watch per kind", async () => {
    const operator = await startFastOperator()
    try {
      operator.startControllers()
      // The Service controller makes the FlyTunnel, the tunnel controller its frpc Deployment: every kind is read.
      await publish(operator, "web", "10.96.0.10")
      await operator.stopControllers()
      operator.startControllers()
      // Published only if the restarted controllers are fed by the same watches (the address waits for frpc's rollout,
      // which the tunnel controller sees only through the Deployments' informer).
      await publish(operator, "api", "10.96.0.11")

      const watches: Record<string, number> = {}
      for (const call of operator.kube.calls()) {
        if (call.verb === "watch") watches[call.kind] = (watches[call.kind] ?? 0) + 1
      }
      expect(watches).toEqual({ FlyTunnel: 1, Service: 1, Deployment: 1 })
    } finally {
      await operator.close()
    }
  })
})
