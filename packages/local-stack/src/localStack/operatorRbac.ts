import { fileURLToPath } from "node:url"
import type { ControlPlaneEndpoint } from "../controlPlane/controlPlane.ts"
import { serviceAccountKubeconfig } from "../controlPlane/serviceAccountKubeconfig.ts"
import { runCommand } from "./command.ts"

const CHART = fileURLToPath(new URL("../../../../charts/fly-tunnel-operator/", import.meta.url))
const RBAC_TEMPLATES = ["templates/serviceaccount.yaml", "templates/clusterrole.yaml", "templates/role.yaml"]

export interface OperatorIdentity {
  /** The release namespace: the operator's own (frpc objects, the Lease). */
  readonly namespace: string
  readonly serviceAccount: string
  /** A kubeconfig acting as that ServiceAccount (a bound token), never the admin's. */
  readonly kubeconfigPath: string
}

/**
 * Installs exactly the RBAC the Helm chart grants the operator (its ServiceAccount, ClusterRole and Role with their
 * bindings, rendered by `helm template` for `release` in `namespace`) and returns a kubeconfig for that
 * ServiceAccount, so an operator process runs with the chart's permissions and no more.
 */
export const installOperatorRbac = async (options: {
  readonly tools: { readonly helm: string; readonly kubectl: string }
  readonly controlPlane: ControlPlaneEndpoint
  readonly namespace: string
  readonly release: string
  /** Chart values (`--set key=value`) the RBAC is rendered with; a namespace they name must exist. */
  readonly values?: Readonly<Record<string, string>>
}): Promise<OperatorIdentity> => {
  const { tools, controlPlane, namespace, release } = options
  const kubectl = (args: ReadonlyArray<string>, input?: string) =>
    runCommand(tools.kubectl, ["--kubeconfig", controlPlane.kubeconfigPath, ...args], input)
  // The chart needs an org and a token source to render; neither is used here (the process gets its own).
  const manifests = await runCommand(tools.helm, [
    "template",
    release,
    CHART,
    "--namespace",
    namespace,
    "--set",
    "flyOrg=local",
    "--set",
    "existingSecret=unused",
    ...Object.entries(options.values ?? {}).flatMap(([key, value]) => ["--set", `${key}=${value}`]),
    ...RBAC_TEMPLATES.flatMap((template) => ["--show-only", template]),
  ])
  await kubectl(["create", "namespace", namespace]).catch((error: Error) => {
    if (!error.message.includes("AlreadyExists")) throw error
  })
  await kubectl(["apply", "--server-side", "-f", "-"], manifests)
  const serviceAccount = await kubectl([
    "-n",
    namespace,
    "get",
    "serviceaccounts",
    "-l",
    `app.kubernetes.io/instance=${release}`,
    "-o",
    "jsonpath={.items[0].metadata.name}",
  ])
  if (serviceAccount === "") throw new Error(`the chart rendered no ServiceAccount for release ${release}`)
  return {
    namespace,
    serviceAccount,
    kubeconfigPath: await serviceAccountKubeconfig(controlPlane, namespace, serviceAccount),
  }
}
