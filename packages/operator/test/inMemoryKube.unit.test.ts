import type { V1Service } from "@kubernetes/client-node"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { InMemoryKube, layerInMemoryKube } from "../src/kube/inMemoryKube.ts"
import { FieldManager, KubeClient } from "../src/kube/kubeClient.ts"
import { Service } from "../src/kube/resourceType.ts"

const shop: V1Service = {
  metadata: { name: "shop", namespace: "default" },
  spec: { type: "LoadBalancer", ports: [{ name: "https", port: 443, protocol: "TCP" }] },
}

describe("the in-memory API server's server-side apply", () => {
  it("keeps one ownership per manager and subresource: an apply to the object never drops the manager's status", async () => {
    const program = Effect.gen(function* () {
      const kube = yield* KubeClient
      const memory = yield* InMemoryKube
      const metadata = { name: "shop", namespace: "default" }
      yield* kube.create(Service, shop)
      yield* kube.applyStatus(Service, { metadata, status: { loadBalancer: { ingress: [{ ip: "203.0.113.9" }] } } })
      yield* kube.apply(Service, { metadata: { ...metadata, annotations: { "example.com/a": "1" } } })
      const [both] = memory.objects(Service, "default")
      expect(both?.metadata?.annotations).toEqual({ "example.com/a": "1" })
      expect(both?.status?.loadBalancer?.ingress).toEqual([{ ip: "203.0.113.9" }])
      // What the manager stops applying goes, in the scope it applied it to only.
      yield* kube.apply(Service, { metadata })
      const [unannotated] = memory.objects(Service, "default")
      expect(unannotated?.metadata?.annotations ?? {}).toEqual({})
      expect(unannotated?.status?.loadBalancer?.ingress).toEqual([{ ip: "203.0.113.9" }])
      yield* kube.applyStatus(Service, { metadata, status: {} })
      const [released] = memory.objects(Service, "default")
      expect(released?.status?.loadBalancer?.ingress ?? []).toEqual([])
    })
    await Effect.runPromise(
      program.pipe(Effect.provideService(FieldManager, "controller"), Effect.provide(layerInMemoryKube())),
    )
  })
})
