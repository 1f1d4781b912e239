import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Stream } from "effect"
import * as Informer from "../src/kube/informer.ts"
import { InMemoryKube, layerInMemoryKube } from "../src/kube/inMemoryKube.ts"
import { FieldManager } from "../src/kube/kubeClient.ts"
import { KubeUnavailable } from "../src/kube/kubeErrors.ts"
import { Service } from "../src/kube/resourceType.ts"

const nameOf = (change: Informer.InformerChange<{ readonly metadata?: { readonly name?: string } }>) =>
  `${change.type} ${change.object.metadata?.name}`

describe("Informer", () => {
  it.live("hands each object to a subscriber that came before the first list once, then only what changed after", () =>
    Effect.gen(function* () {
      const kube = yield* InMemoryKube
      const create = (name: string) =>
        kube.client
          .create(Service, { metadata: { name, namespace: "default" }, spec: {} })
          .pipe(Effect.provideService(FieldManager, "test"))
      for (const name of ["a", "b", "c"]) yield* create(name)
      // The first list fails, so the informer lists again after its reconnect backoff: the subscriber is in by then.
      kube.inject({
        verb: "list",
        kind: "Service",
        error: new KubeUnavailable({ request: "LIST services", message: "" }),
      })
      const informer = yield* Informer.make(Service)
      const subscribing = yield* Effect.forkChild(informer.subscribe)
      const { initial, changes } = yield* Fiber.join(subscribing)
      assert.deepStrictEqual(initial.map((service) => service.metadata?.name).sort(), ["a", "b", "c"])
      const next = yield* Effect.forkChild(Stream.runCollect(Stream.take(changes, 1)))
      yield* create("d")
      assert.deepStrictEqual((yield* Fiber.join(next)).map(nameOf), ["Added d"])
    }).pipe(Effect.scoped, Effect.provide(layerInMemoryKube())),
  )
})
