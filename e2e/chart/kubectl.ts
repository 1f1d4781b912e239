import { randomBytes } from "node:crypto"
import { Effect } from "effect"
import { runCommand, runCommandOk } from "./command.ts"

/** kubectl as cluster admin of the local control plane. */
export const makeKubectl = (kubectl: string, kubeconfigPath: string) => {
  const args = (rest: ReadonlyArray<string>) => ["--kubeconfig", kubeconfigPath, ...rest]
  return {
    run: (rest: ReadonlyArray<string>, input?: string) =>
      runCommand(kubectl, args(rest), input === undefined ? {} : { input }).pipe(Effect.orDie),
    ok: (rest: ReadonlyArray<string>, input?: string) =>
      runCommandOk(kubectl, args(rest), input === undefined ? {} : { input }).pipe(Effect.orDie),
  }
}

export type Kubectl = ReturnType<typeof makeKubectl>

/** A fresh namespace for one test, deleted (without waiting) when the test's scope closes. */
export const scopedNamespace = (kubectl: Kubectl, prefix: string, labels: Record<string, string> = {}) =>
  Effect.acquireRelease(
    Effect.gen(function* () {
      const name = `${prefix}-${randomBytes(4).toString("hex")}`
      const manifest = { apiVersion: "v1", kind: "Namespace", metadata: { name, labels } }
      yield* kubectl.ok(["create", "-f", "-"], JSON.stringify(manifest))
      return name
    }),
    (name) => kubectl.run(["delete", "namespace", name, "--wait=false"]),
  )

/**
 * Hands an existing FlyTunnel CRD (applied by kubectl from crds/, or kept by another release) to the Helm release
 * `release` in `namespace`, as the README's "Upgrading and CRDs" tells users to: Helm adopts an object only when it
 * carries the release's ownership label and annotations. Does nothing when the CRD does not exist.
 */
export const adoptCrdForRelease = (kubectl: Kubectl, release: string, namespace: string) =>
  Effect.gen(function* () {
    const crd = "crd/flytunnels.fly-tunnel-operator.dev"
    const exists = yield* kubectl.run(["get", crd, "-o", "name"])
    if (exists.exitCode !== 0) return
    yield* kubectl.ok(["label", "--overwrite", crd, "app.kubernetes.io/managed-by=Helm"])
    yield* kubectl.ok([
      "annotate",
      "--overwrite",
      crd,
      `meta.helm.sh/release-name=${release}`,
      `meta.helm.sh/release-namespace=${namespace}`,
    ])
  })
