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
