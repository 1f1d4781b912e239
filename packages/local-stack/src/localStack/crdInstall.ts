import { fileURLToPath } from "node:url"
import { runCommand } from "./command.ts"

const CRDS = fileURLToPath(new URL("../../../../crds/", import.meta.url))

/** Applies the committed CRDs (`kubectl apply --server-side -f crds/`) and waits until the API serves them. */
export const installCrds = async (kubectl: string, kubeconfigPath: string): Promise<void> => {
  await runCommand(kubectl, ["--kubeconfig", kubeconfigPath, "apply", "--server-side", "-f", CRDS])
  await runCommand(kubectl, [
    "--kubeconfig",
    kubeconfigPath,
    "wait",
    "--for=condition=Established",
    "--timeout=60s",
    "crd/flytunnels.fly-tunnel-operator.dev",
  ])
}
