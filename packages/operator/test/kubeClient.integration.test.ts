import { readFileSync } from "node:fs"
import { assert, describe, it } from "@effect/vitest"
import type { V1ConfigMap, V1Namespace } from "@kubernetes/client-node"
import { Effect, Fiber, Layer, Option, Schedule, type Scope, Stream } from "effect"
import { inject } from "vitest"
import { parse } from "yaml"
import { EventRecorder } from "../src/kube/eventRecorder.ts"
import * as Informer from "../src/kube/informer.ts"
import { addFinalizer, FieldManager, KubeClient, removeFinalizer } from "../src/kube/kubeClient.ts"
import { type KubeError, KubeUnavailable } from "../src/kube/kubeErrors.ts"
import * as LeaderElection from "../src/kube/leaderElection.ts"
import * as ResourceType from "../src/kube/resourceType.ts"
import { Lease } from "../src/kube/resourceType.ts"

const { kubeconfigPath } = inject("controlPlane")
const Client = KubeClient.layerFromFile(kubeconfigPath)
const run = <A, E>(effect: Effect.Effect<A, E, KubeClient | Scope.Scope>) =>
  effect.pipe(Effect.scoped, Effect.provide(Client), Effect.timeout("120 seconds"))

// Kinds only this test touches.
const CustomResourceDefinition: ResourceType.ResourceType<ResourceType.KubeObject> = {
  group: "apiextensions.k8s.io",
  version: "v1",
  kind: "CustomResourceDefinition",
  plural: "customresourcedefinitions",
  namespaced: false,
}
const Namespace: ResourceType.ResourceType<V1Namespace> = {
  group: "",
  version: "v1",
  kind: "Namespace",
  plural: "namespaces",
  namespaced: false,
}
const ConfigMap: ResourceType.ResourceType<V1ConfigMap> = {
  group: "",
  version: "v1",
  kind: "ConfigMap",
  plural: "configmaps",
  namespaced: true,
}

const namespace = `kube-it-${Date.now().toString(36)}`

/** Polls `check` until it holds (generous; no timing assertions). */
const eventually = <A, E, R>(check: Effect.Effect<A, E, R>, holds: (a: A) => boolean) =>
  check.pipe(
    Effect.flatMap((a) => (holds(a) ? Effect.succeed(a) : Effect.fail("not yet" as const))),
    Effect.retry(Schedule.spaced("100 millis")),
    Effect.timeout("60 seconds"),
  )

const ensureNamespace = Effect.gen(function* () {
  const client = yield* KubeClient
  yield* client.apply(Namespace, { metadata: { name: namespace } })
})

const ensureCrd = Effect.gen(function* () {
  const client = yield* KubeClient
  const crd = parse(
    readFileSync(new URL("../../../crds/fly-tunnel-operator.dev_flytunnels.yaml", import.meta.url), "utf8"),
  )
  yield* client.apply(CustomResourceDefinition, crd)
  yield* eventually(
    client.list(ResourceType.FlyTunnel, { namespace }).pipe(Effect.exit),
    (exit) => exit._tag === "Success",
  )
})

const service = (name: string, extra: Record<string, unknown> = {}) => ({
  metadata: { name, namespace, labels: { "kube-it": "yes" } },
  spec: { ports: [{ name: "http", port: 80, protocol: "TCP" }] },
  ...extra,
})

const secret = (name: string, data: Record<string, string>) => ({
  metadata: { name, namespace },
  type: "Opaque",
  stringData: data,
})

describe("KubeClient against a real API server", () => {
  it.live("get / create / list / delete with typed errors", () =>
    run(
      Effect.gen(function* () {
        const client = yield* KubeClient
        yield* ensureNamespace
        const missing = yield* Effect.flip(client.get(ResourceType.Secret, "nope", namespace))
        assert.strictEqual(missing._tag, "KubeNotFound")
        const created = yield* client.create(ResourceType.Secret, secret("crud", { token: "s3cret" }))
        assert.strictEqual(created.metadata?.name, "crud")
        const again = yield* Effect.flip(client.create(ResourceType.Secret, secret("crud", { token: "x" })))
        assert.strictEqual(again._tag, "KubeConflict")
        const invalid = yield* Effect.flip(client.create(ResourceType.Secret, secret("Not_A_Name", {})))
        assert.strictEqual(invalid._tag, "KubeInvalid")
        if (invalid._tag === "KubeInvalid") assert.isTrue(invalid.causes.some((c) => c.field === "metadata.name"))
        const listed = yield* client.list(ResourceType.Secret, { namespace })
        assert.isTrue(listed.items.some((s) => s.metadata?.name === "crud" && s.kind === "Secret"))
        assert.notStrictEqual(listed.resourceVersion, "")
        const stale = yield* Effect.flip(
          client.delete(ResourceType.Secret, "crud", namespace, { preconditions: { uid: "not-the-uid" } }),
        )
        assert.strictEqual(stale._tag, "KubeConflict")
        yield* client.delete(ResourceType.Secret, "crud", namespace, {
          propagationPolicy: "Background",
          preconditions: { uid: created.metadata?.uid },
        })
        const gone = yield* Effect.flip(client.get(ResourceType.Secret, "crud", namespace))
        assert.strictEqual(gone._tag, "KubeNotFound")
      }),
    ),
  )

  it.live("server-side apply is idempotent: the same content does not bump resourceVersion", () =>
    run(
      Effect.gen(function* () {
        const client = yield* KubeClient
        yield* ensureNamespace
        const desired = {
          metadata: { name: "applied", namespace, labels: { app: "frpc" } },
          data: { "frpc.toml": "serverAddr = '127.0.0.1'" },
        }
        const first = yield* client.apply(ConfigMap, desired)
        const second = yield* client.apply(ConfigMap, desired)
        assert.strictEqual(second.metadata?.resourceVersion, first.metadata?.resourceVersion)
        assert.isTrue(second.metadata?.managedFields?.some((f) => f.manager === "fly-tunnel-operator") ?? false)
        const changed = yield* client.apply(ConfigMap, { ...desired, data: { "frpc.toml": "changed" } })
        assert.notStrictEqual(changed.metadata?.resourceVersion, first.metadata?.resourceVersion)
        // Each field manager owns what it applied: dropping a key it owns removes it, another manager's stays.
        const other = yield* client
          .apply(ConfigMap, { metadata: { name: "applied", namespace }, data: { other: "theirs" } })
          .pipe(Effect.provideService(FieldManager, "someone-else"))
        assert.deepStrictEqual(other.data, { "frpc.toml": "changed", other: "theirs" })
        const dropped = yield* client.apply(ConfigMap, { metadata: { name: "applied", namespace }, data: {} })
        assert.deepStrictEqual(dropped.data, { other: "theirs" })
      }),
    ),
  )

  it.live("status: server-side apply to /status leaves the spec alone and keeps other managers' fields", () =>
    run(
      Effect.gen(function* () {
        const client = yield* KubeClient
        yield* ensureNamespace
        yield* ensureCrd
        const tunnel = yield* client.create(ResourceType.FlyTunnel, {
          metadata: { name: "status", namespace },
          spec: {
            target: { service: { name: "web" } },
            ports: [{ name: "http", port: 80 }],
            regions: ["ams"],
          },
        })
        const metadata = { name: "status", namespace, uid: tunnel.metadata?.uid ?? "" }
        const applied = yield* client.applyStatus(ResourceType.FlyTunnel, {
          metadata,
          status: { phase: "Pending", observedGeneration: 1, target: "svc/web" },
        })
        assert.deepStrictEqual(applied.status, { phase: "Pending", observedGeneration: 1, target: "svc/web" })
        assert.deepStrictEqual(applied.spec, tunnel.spec)
        const next = yield* client.applyStatus(ResourceType.FlyTunnel, { metadata, status: { phase: "Provisioning" } })
        assert.deepStrictEqual(next.status, { phase: "Provisioning" }, "fields no longer applied are removed")
        // A uid that is not the object's (a deleted and re-created tunnel) is refused (422), not written.
        const stale = yield* Effect.flip(
          client.applyStatus(ResourceType.FlyTunnel, { metadata: { ...metadata, uid: "not-the-uid" }, status: {} }),
        )
        assert.strictEqual(stale._tag, "KubeInvalid")
        assert.deepStrictEqual((yield* client.get(ResourceType.FlyTunnel, "status", namespace)).status, {
          phase: "Provisioning",
        })
      }),
    ),
  )

  it.live("finalizers: add and remove are conditional on resourceVersion", () =>
    run(
      Effect.gen(function* () {
        const client = yield* KubeClient
        yield* ensureNamespace
        const finalizer = "fly-tunnel-operator.dev/finalizer"
        const original = yield* client.create(ResourceType.Secret, secret("finalized", { a: "b" }))
        const withFinalizer = yield* addFinalizer(ResourceType.Secret, original, finalizer)
        assert.deepStrictEqual(withFinalizer.metadata?.finalizers, [finalizer])
        const unchanged = yield* addFinalizer(ResourceType.Secret, withFinalizer, finalizer)
        assert.strictEqual(unchanged, withFinalizer, "already present: no request")
        // A writer holding the stale copy loses.
        const conflict = yield* Effect.flip(
          removeFinalizer(
            ResourceType.Secret,
            { ...original, metadata: { ...original.metadata, finalizers: [finalizer] } },
            finalizer,
          ),
        )
        assert.strictEqual(conflict._tag, "KubeConflict")
        yield* client.delete(ResourceType.Secret, "finalized", namespace)
        const terminating = yield* client.get(ResourceType.Secret, "finalized", namespace)
        assert.isDefined(terminating.metadata?.deletionTimestamp)
        yield* removeFinalizer(ResourceType.Secret, terminating, finalizer)
        yield* eventually(
          client.get(ResourceType.Secret, "finalized", namespace).pipe(Effect.exit),
          (exit) => exit._tag === "Failure",
        )
      }),
    ),
  )

  it.live("an informer sees create, update and delete, and keeps going across watch closes", () =>
    run(
      Effect.gen(function* () {
        const client = yield* KubeClient
        yield* ensureNamespace
        const watch = yield* Informer.make(ResourceType.Service, {
          namespace,
          labelSelector: "kube-it=yes",
          // The server ends each watch after a second: every step below crosses reconnects.
          watchTimeoutSeconds: 1,
        })
        const { changes } = yield* watch.subscribe
        const seen: Array<string> = []
        yield* Effect.forkScoped(
          Stream.runForEach(changes, (change) =>
            Effect.sync(() => seen.push(`${change.type}:${change.object.metadata?.name}`)),
          ),
        )
        yield* client.create(ResourceType.Service, service("watched"))
        yield* eventually(
          Effect.sync(() => seen),
          (s) => s.includes("Added:watched"),
        )
        assert.isTrue(Option.isSome(yield* watch.get("watched", namespace)))
        yield* Effect.sleep("2500 millis") // lets the server close the watch at least twice
        yield* client.mergePatch(ResourceType.Service, "watched", namespace, { metadata: { annotations: { a: "1" } } })
        yield* eventually(watch.get("watched", namespace), (o) =>
          Option.isSome(o) ? o.value.metadata?.annotations?.a === "1" : false,
        )
        assert.isTrue(seen.includes("Updated:watched"))
        yield* client.create(
          ResourceType.Service,
          service("unlabelled", { metadata: { name: "unlabelled", namespace } }),
        )
        yield* client.delete(ResourceType.Service, "watched", namespace)
        yield* eventually(
          Effect.sync(() => seen),
          (s) => s.includes("Deleted:watched"),
        )
        assert.isTrue(Option.isNone(yield* watch.get("watched", namespace)))
        assert.isFalse(
          seen.some((s) => s.endsWith(":unlabelled")),
          "label selector honoured",
        )
      }),
    ),
  )

  it.live("EventRecorder writes Events and folds repeats into a count", () =>
    run(
      Effect.gen(function* () {
        const client = yield* KubeClient
        yield* ensureNamespace
        const target = yield* client.create(ResourceType.Service, service("evented"))
        const recorder = yield* Effect.gen(function* () {
          return yield* EventRecorder
        }).pipe(
          Effect.provide(EventRecorder.layer({ component: "kube-it", patchInterval: 0 }).pipe(Layer.provide(Client))),
        )
        for (let i = 0; i < 5; i++) {
          yield* recorder.record(target, { type: "Warning", reason: "InvalidAnnotation", message: "bad region" })
        }
        yield* recorder.record(target, { type: "Normal", reason: "Provisioned", message: "ok" })
        const events = yield* client.list(ResourceType.CoreEvent, {
          namespace,
          fieldSelector: `involvedObject.uid=${target.metadata?.uid}`,
        })
        const byReason = (reason: string) => events.items.filter((event) => event.reason === reason)
        assert.strictEqual(byReason("InvalidAnnotation").length, 1)
        assert.strictEqual(byReason("InvalidAnnotation")[0]?.count, 5)
        assert.strictEqual(byReason("InvalidAnnotation")[0]?.type, "Warning")
        assert.strictEqual(byReason("Provisioned").length, 1)
      }),
    ),
  )

  it.live("fenced leadership: a leader that cannot renew stops writing before another replica leads", () =>
    run(
      Effect.gen(function* () {
        yield* ensureNamespace
        const lease = {
          name: "kube-it-fence",
          namespace,
          leaseDuration: "3 seconds",
          renewDeadline: "2 seconds",
          retryPeriod: "250 millis",
        } as const
        const client = yield* KubeClient
        let severed = false
        const writes: Array<number> = []
        let successorStarted = Number.POSITIVE_INFINITY
        // A reconcile that cannot be interrupted promptly: it writes every 100 ms for as long as it is let through.
        const stubbornWriter = Effect.gen(function* () {
          for (let n = 0; ; n++) {
            yield* client.apply(ConfigMap, { metadata: { name: `fenced-${n % 3}`, namespace }, data: { n: String(n) } })
            writes.push(Date.now())
            yield* Effect.sleep("100 millis")
          }
        }).pipe(Effect.uninterruptible)
        const b = yield* Effect.forkChild(
          LeaderElection.run({ ...lease, identity: "b" }, stubbornWriter).pipe(
            // Only b's Lease calls are cut: its writes would still reach the API server, but for the fence.
            Effect.provideService(
              KubeClient,
              severable(client, () => severed, Lease.kind),
            ),
          ),
        )
        yield* eventually(
          Effect.sync(() => writes.length),
          (count) => count >= 3,
        )
        const c = yield* Effect.forkChild(
          LeaderElection.run(
            { ...lease, identity: "c" },
            Effect.sync(() => (successorStarted = Math.min(successorStarted, Date.now()))).pipe(
              Effect.andThen(Effect.never),
            ),
          ),
        )
        severed = true
        yield* eventually(
          Effect.sync(() => successorStarted),
          (at) => Number.isFinite(at),
        )
        const written = writes.length
        yield* Effect.sleep("1 second")
        assert.strictEqual(writes.length, written, "no write after the successor started")
        assert.isTrue(
          writes.every((at) => at < successorStarted),
          "every write of the old leader landed before the new one led",
        )
        yield* Fiber.interrupt(b)
        yield* Fiber.interrupt(c)
      }),
    ),
  )

  it.live("leader election: one leader at a time; the other takes over after release and after death", () =>
    run(
      Effect.gen(function* () {
        yield* ensureNamespace
        const leaders = new Set<string>()
        let maxLeaders = 0
        const lease = {
          name: "kube-it",
          namespace,
          leaseDuration: "3 seconds",
          renewDeadline: "2 seconds",
          retryPeriod: "250 millis",
        } as const
        const lead = (identity: string) =>
          Effect.acquireRelease(
            Effect.sync(() => {
              leaders.add(identity)
              maxLeaders = Math.max(maxLeaders, leaders.size)
            }),
            () => Effect.sync(() => leaders.delete(identity)),
          ).pipe(Effect.andThen(Effect.never), Effect.scoped)
        const a = yield* Effect.forkChild(LeaderElection.run({ ...lease, identity: "a" }, lead("a")))
        yield* eventually(
          Effect.sync(() => leaders),
          (l) => l.has("a"),
        )
        let severed = false
        const client = yield* KubeClient
        const b = yield* Effect.forkChild(
          LeaderElection.run({ ...lease, identity: "b" }, lead("b")).pipe(
            Effect.provideService(
              KubeClient,
              severable(client, () => severed),
            ),
          ),
        )
        yield* Effect.sleep("4 seconds") // longer than leaseDuration: b must still wait, a keeps renewing
        assert.deepStrictEqual([...leaders], ["a"])
        // Release: interrupting a stops its work and frees the Lease; b takes over.
        yield* Fiber.interrupt(a)
        yield* eventually(
          Effect.sync(() => leaders),
          (l) => l.has("b"),
        )
        // Death: b's connection to the API server is cut, so it can neither renew nor release. It
        // steps down after renewDeadline; c takes the Lease once it has stayed unchanged for leaseDuration.
        const c = yield* Effect.forkChild(LeaderElection.run({ ...lease, identity: "c" }, lead("c")))
        yield* Effect.sleep("1 second")
        assert.deepStrictEqual([...leaders], ["b"])
        severed = true
        yield* eventually(
          Effect.sync(() => leaders),
          (l) => !l.has("b"),
        )
        yield* eventually(
          Effect.sync(() => leaders),
          (l) => l.has("c"),
        )
        yield* Fiber.interrupt(b)
        assert.strictEqual(maxLeaders, 1)
        yield* Fiber.interrupt(c)
      }),
    ),
  )
})

/** A client whose every call fails once `isSevered()`: a replica that lost the API server. */
const severable = (
  client: KubeClient["Service"],
  isSevered: () => boolean,
  onlyKind?: string,
): KubeClient["Service"] => {
  const cut = new KubeUnavailable({ request: "severed", message: "connection cut by the test" })
  const guard = <A>(kind: string, effect: Effect.Effect<A, KubeError>) =>
    Effect.suspend(() => (isSevered() && (onlyKind === undefined || kind === onlyKind) ? Effect.fail(cut) : effect))
  return KubeClient.of({
    ...client,
    get: (type, name, ns) => guard(type.kind, client.get(type, name, ns)),
    create: (type, object) => guard(type.kind, client.create(type, object)),
    replace: (type, object) => guard(type.kind, client.replace(type, object)),
  })
}
