// The chart's ValidatingAdmissionPolicy on the shared control plane, for tests: rendered from given values, bound to
// the test's namespaces only, removed when the test ends.
import { Effect, Schedule } from "effect"
import { expect } from "vitest"
import { chartDir, minimalValues, renderChart } from "./chart.ts"
import type { Kubectl } from "./kubectl.ts"

export const tunnel = (namespace: string, name: string, spec: object) =>
  JSON.stringify({
    apiVersion: "fly-tunnel-operator.dev/v1alpha1",
    kind: "FlyTunnel",
    metadata: { name, namespace },
    spec: { ports: [{ name: "http", port: 8080 }], regions: ["ord"], ...spec },
  })

export const addressTunnel = (namespace: string, host: string) =>
  tunnel(namespace, "probe", { target: { address: { host } } })

/**
 * The chart's admission policy for `values`, bound only to `namespaces` (the chart binds it cluster-wide; the test
 * scopes it so that other tests on the shared control plane are unaffected), removed when the test ends.
 */
export const installAdmissionPolicy = (
  kubectl: Kubectl,
  helm: string,
  values: object,
  namespaces: ReadonlyArray<string>,
) =>
  Effect.acquireRelease(
    Effect.gen(function* () {
      yield* kubectl.ok([
        "apply",
        "--server-side",
        "-f",
        `${chartDir}files/crds/fly-tunnel-operator.dev_flytunnels.yaml`,
      ])
      const release = `adm-${namespaces[0]?.slice(-8)}`
      const manifests = (yield* renderChart(helm, { ...minimalValues, ...values }, { release })).filter((manifest) =>
        manifest.kind.startsWith("ValidatingAdmissionPolicy"),
      )
      expect(manifests.map((manifest) => manifest.kind).sort()).toEqual([
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
      ])
      const scoped = manifests.map((manifest) =>
        manifest.kind === "ValidatingAdmissionPolicyBinding"
          ? {
              ...manifest,
              spec: {
                ...(manifest.spec as object),
                matchResources: {
                  namespaceSelector: {
                    matchExpressions: [{ key: "kubernetes.io/metadata.name", operator: "In", values: [...namespaces] }],
                  },
                },
              },
            }
          : manifest,
      )
      yield* kubectl.ok(["apply", "-f", "-"], JSON.stringify({ apiVersion: "v1", kind: "List", items: scoped }))
      // The policy is compiled and its binding picked up asynchronously: wait until it refuses what it must.
      yield* kubectl
        .run(["create", "--dry-run=server", "-f", "-"], addressTunnel(namespaces[0] ?? "", "127.0.0.1"))
        .pipe(
          Effect.flatMap((result) =>
            result.exitCode !== 0 && result.stderr.includes("ValidatingAdmissionPolicy")
              ? Effect.void
              : Effect.fail("policy not in force yet"),
          ),
          Effect.retry(Schedule.spaced("250 millis").pipe(Schedule.upTo({ times: 120 }))),
          Effect.orDie,
        )
      return scoped.map((manifest) => `${manifest.kind.toLowerCase()}/${manifest.metadata.name}`)
    }),
    (names) => kubectl.run(["delete", ...names, "--ignore-not-found"]),
  )

/** `kubectl create --dry-run=server` of a FlyTunnel: the refusal text, or undefined when it was admitted. */
export const admissionOf = (kubectl: Kubectl, manifest: string) =>
  kubectl
    .run(["create", "--dry-run=server", "-f", "-"], manifest)
    .pipe(Effect.map((result) => (result.exitCode === 0 ? undefined : result.stderr.trim())))
