// Bad input, generated, at admission: the CRD's schema and CEL rules and the chart's ValidatingAdmissionPolicy (default
// values) on the real kube-apiserver refuse every invalid FlyTunnel spec, naming the field, and admit every valid one;
// the operator's decoder agrees with the API server on everything but the policy (which only admission and the
// operator's policy check know).
import { describe, expect, it } from "@effect/vitest"
import { decodeFlyTunnelSpecResult } from "@fly-tunnel-operator/api"
import { type GeneratedCase, specCase } from "@fly-tunnel-operator/testkit"
import { Effect, Result } from "effect"
import fc from "fast-check"
import { inject } from "vitest"
import { admissionOf, installAdmissionPolicy } from "./admissionPolicy.ts"
import { toolsOrFail } from "./chart.ts"
import { makeKubectl, scopedNamespace } from "./kubectl.ts"

const tools = toolsOrFail()
const { kubeconfigPath } = inject("controlPlane")
const kubectl = makeKubectl(tools.kubectl, kubeconfigPath)

/** Bounded for CI; each case is one server-side dry run. */
const RUNS = 60

describe("generated FlyTunnel specs at admission (real kube-apiserver, the chart's default policy)", () => {
  it.live("refuses every invalid spec naming its field, admits every valid one, and agrees with the decoder", () =>
    Effect.gen(function* () {
      const namespace = yield* scopedNamespace(kubectl, "fto-prop")
      yield* installAdmissionPolicy(kubectl, tools.helm, {}, [namespace])
      let counter = 0
      const judge = (generated: GeneratedCase<unknown>) =>
        Effect.gen(function* () {
          const manifest = JSON.stringify({
            apiVersion: "fly-tunnel-operator.dev/v1alpha1",
            kind: "FlyTunnel",
            metadata: { name: `case-${++counter}`, namespace },
            spec: generated.input,
          })
          const refusal = yield* admissionOf(kubectl, manifest)
          const decoded = decodeFlyTunnelSpecResult(generated.input)
          const what = `${generated.broken ?? "valid"}: ${JSON.stringify(generated.input)}`
          if (generated.field === undefined) {
            expect(refusal, what).toBeUndefined()
            expect(Result.isSuccess(decoded), what).toBe(true)
            return
          }
          expect(refusal, what).toBeDefined()
          expect(refusal, what).toContain(generated.field)
          // The schema's verdict is the decoder's; the policy is not the schema's business.
          if (generated.policy === true) expect(Result.isSuccess(decoded), what).toBe(true)
          else {
            expect(Result.isFailure(decoded), what).toBe(true)
            if (Result.isFailure(decoded)) expect(decoded.failure.message, what).toContain(generated.field)
          }
        })
      yield* Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(specCase, (generated) => Effect.runPromise(judge(generated))),
          { numRuns: RUNS, endOnFailure: true },
        ),
      )
    }),
  )
})
