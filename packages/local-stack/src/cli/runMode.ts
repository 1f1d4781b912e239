import { existsSync } from "node:fs"
import { homedir } from "node:os"
import { join } from "node:path"

/** What `./dev start` does: run against a real cluster and Fly, or boot the local stack. */
export type RunMode =
  | { readonly _tag: "Cluster" }
  | { readonly _tag: "Local" }
  | { readonly _tag: "Incomplete"; readonly message: string }

/**
 * A kubeconfig (KUBECONFIG, or ~/.kube/config) and a Fly token (FLY_API_TOKEN or FLY_API_TOKEN_FILE) together mean a
 * real cluster; neither (or `--local`) means the local stack; one without the other is a mistake worth naming.
 */
export const runMode = (env: NodeJS.ProcessEnv, argv: ReadonlyArray<string>, home = homedir()): RunMode => {
  if (argv.includes("--local")) return { _tag: "Local" }
  const defaultKubeconfig = join(home, ".kube", "config")
  const kubeconfig = env.KUBECONFIG
    ? `KUBECONFIG=${env.KUBECONFIG}`
    : existsSync(defaultKubeconfig)
      ? defaultKubeconfig
      : undefined
  const token = env.FLY_API_TOKEN_FILE ? "FLY_API_TOKEN_FILE" : env.FLY_API_TOKEN ? "FLY_API_TOKEN" : undefined
  if (kubeconfig !== undefined && token !== undefined) return { _tag: "Cluster" }
  if (kubeconfig === undefined && token === undefined) return { _tag: "Local" }
  return {
    _tag: "Incomplete",
    message:
      kubeconfig !== undefined
        ? `found a kubeconfig (${kubeconfig}) but no Fly token: set FLY_API_TOKEN_FILE (a file holding an org token) or FLY_API_TOKEN to run the operator against that cluster, or run \`./dev start --local\` for the local stack`
        : `found a Fly token (${token}) but no kubeconfig: set KUBECONFIG (or create ~/.kube/config) to run the operator against that cluster, or unset ${token} for the local stack`,
  }
}
