import { Clock, Console, Effect } from "effect"
import { KubeClient } from "../kube/kubeClient.ts"
import { stopOperator } from "./operatorShutdown.ts"
import { releaseServices } from "./serviceRelease.ts"
import { describeTunnel, removeAllTunnels } from "./tunnelRemoval.ts"
import { loadUninstallConfig, type UninstallConfig, uninstallHelp } from "./uninstallConfig.ts"

const log = (line: string) => Console.log(`[uninstall] ${line}`)

/**
 * The chart's pre-delete hook (`uninstall.deleteTunnels`): every FlyTunnel deleted and waited for while the operator
 * still runs (the chart's admission policy keeps it from re-creating a Service's tunnel meanwhile), then the operator
 * stopped and the Services released. Exit code 0 when everything is gone; 1, with what remains and why, when the
 * time is up — Helm then stops the uninstall and the operator keeps running.
 */
export const runUninstall = Effect.fn("runUninstall")(function* (config: UninstallConfig) {
  const started = yield* Clock.currentTimeMillis
  const deadline = started + config.timeoutSeconds * 1000
  yield* log(`deleting every FlyTunnel; waiting up to ${config.timeoutSeconds}s for the operator's teardown on Fly`)
  const remaining = yield* removeAllTunnels(deadline, log)
  if (remaining.length > 0) {
    yield* Console.error(
      [
        `[uninstall] gave up after ${config.timeoutSeconds}s: ${remaining.length} FlyTunnel(s) remain, their Fly resources may still exist:`,
        ...remaining.map((tunnel) => `  ${describeTunnel(tunnel)}`),
        "[uninstall] The operator keeps running. Fix the cause (`kubectl describe flytunnel -n <namespace> <name>`) and run",
        "[uninstall] `helm uninstall` again, or set the annotation fly-tunnel-operator.dev/force-delete=true on a FlyTunnel",
        "[uninstall] to give up on its Fly resources (they may stay billed: check `fly apps list`).",
      ].join("\n"),
    )
    return 1
  }
  yield* log("every FlyTunnel is gone")
  const pods = yield* stopOperator(
    { namespace: config.operatorNamespace, deployment: config.operatorDeployment, selector: config.operatorSelector },
    deadline,
    log,
  )
  if (pods.length > 0) {
    yield* Console.error(
      `[uninstall] gave up after ${config.timeoutSeconds}s: operator Pods still running (${pods.join(", ")}); Services were not released`,
    )
    return 1
  }
  const released = yield* releaseServices(config.loadBalancerClass)
  yield* log(
    released.length === 0
      ? "no Service held our finalizer"
      : `released ${released.length} Service(s) (ingress, condition and finalizer removed): ${released.join(", ")}`,
  )
  const seconds = Math.round(((yield* Clock.currentTimeMillis) - started) / 1000)
  yield* log(`done in ${seconds}s: nothing of the tunnels is left on Fly or in the cluster`)
  return 0
})

/** `operator uninstall [--flags]`: resolves with the process exit code (2: a bad setting). */
export const uninstallMain = (
  argv: ReadonlyArray<string>,
  env: Readonly<Record<string, string | undefined>>,
): Promise<number> => {
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(
      `fly-tunnel-operator uninstall: delete every FlyTunnel, wait for the teardown, stop the operator, release the Services\n\nSettings (flag or environment variable):\n${uninstallHelp()}\n`,
    )
    return Promise.resolve(0)
  }
  const program = Effect.gen(function* () {
    const config = yield* loadUninstallConfig(argv, env)
    const kube = config.kubeconfig === "" ? KubeClient.layerDefault : KubeClient.layerFromFile(config.kubeconfig)
    return yield* runUninstall(config).pipe(Effect.provide(kube))
  }).pipe(
    Effect.catchTag(["OperatorConfigError", "KubeconfigError"], (error) =>
      Console.error(error.message).pipe(Effect.as(2)),
    ),
    Effect.catch((error) =>
      Console.error(`[uninstall] failed: ${error._tag}: ${"message" in error ? error.message : ""}`).pipe(Effect.as(1)),
    ),
  )
  return Effect.runPromise(program)
}
