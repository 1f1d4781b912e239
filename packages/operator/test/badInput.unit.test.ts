// Bad input, generated: FlyTunnel specs and Service annotations that never went through admission (the in-memory
// API server has no CRD validation), valid and invalid. Every invalid one is reported with InvalidSpec naming the
// field and gets nothing on Fly; the valid ones are provisioned; the operator keeps reconciling throughout.
import { annotationsCase, type GeneratedCase, specCase } from "@fly-tunnel-operator/testkit"
import { Effect } from "effect"
import fc from "fast-check"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { FieldManager, KubeClient } from "../src/kube/kubeClient.ts"
import { FlyTunnel, Service } from "../src/kube/resourceType.ts"
import { SERVICE_CONDITION } from "../src/service/serviceStatus.ts"
import { type FastOperator, LOAD_BALANCER_CLASS, startFastOperator, until } from "./support/fastHarness.ts"

/** Bounded for CI: a few batches of cases each, created at once. */
const RUNS = { numRuns: 6, endOnFailure: true } as const
const BATCH = { minLength: 8, maxLength: 16 } as const

describe("generated bad input (in-memory API server without admission, in-process Fly emulator)", () => {
  let operator: FastOperator
  let batch = 0
  beforeAll(async () => {
    operator = await startFastOperator({ resync: "1 hour" })
    operator.startControllers()
  })
  afterAll(() => operator.close())

  const asUser = <A, E>(use: (kube: KubeClient["Service"]) => Effect.Effect<A, E>) =>
    operator.run(KubeClient.use(use).pipe(Effect.provideService(FieldManager, "test")))
  const flyCallsFor = async (uid: string) =>
    (await operator.emulator.state()).calls.filter((call) => call.path.includes(uid))

  /** A canary provisioned after a batch: the controllers still work. */
  const canary = async (namespace: string) => {
    await asUser((kube) =>
      kube.create(FlyTunnel, {
        apiVersion: "fly-tunnel-operator.dev/v1alpha1",
        kind: "FlyTunnel",
        metadata: { name: "canary", namespace },
        spec: { target: { address: { host: "192.168.7.7" } }, ports: [{ name: "c", port: 4242 }], regions: ["ord"] },
      }),
    )
    await until(`canary Ready in ${namespace}`, () =>
      operator.kube
        .objects(FlyTunnel, namespace)
        .find((tunnel) => tunnel.metadata?.name === "canary")
        ?.status?.conditions?.find((condition) => condition.type === "Ready" && condition.status === "True"),
    )
  }

  it("every invalid spec gets InvalidSpec naming its field and nothing on Fly; valid ones are provisioned", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(specCase, BATCH), async (cases) => {
        const namespace = `specs-${++batch}`
        await Promise.all(
          cases.map((generated, index) =>
            asUser((kube) =>
              kube.create(FlyTunnel, {
                apiVersion: "fly-tunnel-operator.dev/v1alpha1",
                kind: "FlyTunnel",
                metadata: { name: `case-${index}`, namespace },
                spec: generated.input,
              }),
            ),
          ),
        )
        const verdict = (index: number) => {
          const tunnel = operator.kube
            .objects(FlyTunnel, namespace)
            .find((item) => item.metadata?.name === `case-${index}`)
          const ready = tunnel?.status?.conditions?.find((condition) => condition.type === "Ready")
          return { tunnel, ready }
        }
        for (const [index, generated] of cases.entries()) {
          // A valid tunnel is provisioned: Ready, or (a Service target, and no such Service here) waiting for it.
          const provisioned = new Set(["Ready", "TargetNotFound"])
          const seen = await until(`case-${index} (${generated.broken ?? "valid"}) judged`, () => {
            const found = verdict(index)
            const reason = found.ready?.reason ?? ""
            const settled = generated.field === undefined ? provisioned.has(reason) : reason !== ""
            return settled ? found : undefined
          })
          const what = `case-${index}: ${generated.broken ?? "valid"} ${JSON.stringify(generated.input)}`
          if (generated.field === undefined) {
            expect(await flyCallsFor(seen.tunnel?.metadata?.uid ?? "?"), what).not.toEqual([])
            continue
          }
          expect(seen.ready?.reason, what).toBe("InvalidSpec")
          expect(seen.ready?.message, what).toContain(generated.field)
          expect(seen.tunnel?.status?.phase, what).toBe("Failed")
          expect(await flyCallsFor(seen.tunnel?.metadata?.uid ?? "?"), what).toEqual([])
        }
        await canary(namespace)
      }),
      RUNS,
    )
  })

  it("every invalid Service annotation is refused on the Service, naming it, with no tunnel; valid ones are published", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(annotationsCase, BATCH),
        async (cases: ReadonlyArray<GeneratedCase<Record<string, string>>>) => {
          const namespace = `services-${++batch}`
          await Promise.all(
            cases.map((generated, index) =>
              asUser((kube) =>
                kube.create(Service, {
                  metadata: { name: `svc-${index}`, namespace, annotations: generated.input },
                  spec: {
                    type: "LoadBalancer",
                    loadBalancerClass: LOAD_BALANCER_CLASS,
                    clusterIP: `10.96.${batch}.${index + 1}`,
                    ports: [{ name: "http", port: 8080, protocol: "TCP" }],
                  },
                }),
              ),
            ),
          )
          for (const [index, generated] of cases.entries()) {
            const what = `svc-${index}: ${generated.broken ?? "valid"} ${JSON.stringify(generated.input)}`
            const condition = await until(`svc-${index} judged`, () => {
              const service = operator.kube
                .objects(Service, namespace)
                .find((item) => item.metadata?.name === `svc-${index}`)
              const found = service?.status?.conditions?.find((item) => item.type === SERVICE_CONDITION)
              const settled = generated.field === undefined ? found?.status === "True" : found?.reason === "InvalidSpec"
              return settled ? found : undefined
            })
            if (generated.field === undefined) continue
            expect(condition.message, what).toContain(generated.field)
            const tunnel = operator.kube
              .objects(FlyTunnel, namespace)
              .find((item) => item.metadata?.name === `svc-${index}`)
            expect(tunnel, what).toBeUndefined()
          }
          await canary(namespace)
        },
      ),
      RUNS,
    )
  })
})
