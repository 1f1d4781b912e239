import type { Tools } from "../tools/toolNames.ts"
import { installCrds } from "./crdInstall.ts"
import type { LocalStack } from "./localStack.ts"
import { type OperatorProcess, type OperatorProcessOptions, startOperatorProcess } from "./operatorProcess.ts"
import { installOperatorRbac, type OperatorIdentity } from "./operatorRbac.ts"

export interface OperatorDeployment {
  readonly identity: OperatorIdentity
  /** Starts one operator process (call twice for two replicas) against the stack's emulator, as the ServiceAccount. */
  start(
    options?: Omit<
      OperatorProcessOptions,
      "kubeconfigPath" | "flyApiBaseUrl" | "flyApiTokenFile" | "operatorNamespace"
    >,
  ): Promise<OperatorProcess>
}

/**
 * What `helm install` would set up, minus the Deployment: the CRDs, and the chart's ServiceAccount and RBAC in
 * `namespace`. Operator processes then run on the host with that ServiceAccount's token.
 */
export const deployOperator = async (
  stack: LocalStack,
  options: {
    readonly tools: Pick<Tools, "helm" | "kubectl">
    readonly namespace: string
    readonly release?: string
    /** Chart values the RBAC is rendered with, e.g. `{ "adoption.goOperatorNamespace": "old" }`. */
    readonly values?: Readonly<Record<string, string>>
  },
): Promise<OperatorDeployment> => {
  await installCrds(options.tools.kubectl, stack.controlPlane.kubeconfigPath)
  const identity = await installOperatorRbac({
    tools: options.tools,
    controlPlane: stack.controlPlane,
    namespace: options.namespace,
    release: options.release ?? "fly-tunnel-operator",
    ...(options.values === undefined ? {} : { values: options.values }),
  })
  return {
    identity,
    start: (processOptions = {}) =>
      startOperatorProcess({
        ...processOptions,
        kubeconfigPath: identity.kubeconfigPath,
        flyApiBaseUrl: stack.emulator.baseUrl,
        flyApiTokenFile: stack.flyApiTokenFile,
        operatorNamespace: identity.namespace,
      }),
  }
}
