import { FlyClient } from "@fly-tunnel-operator/fly"
import { FRPC_IMAGE, FRPS_IMAGE } from "@fly-tunnel-operator/frp"
import { Console, Duration, Effect, Layer, Logger } from "effect"
import { loadOperatorConfig, OperatorConfigError, settingsHelp } from "../config/operatorConfig.ts"
import { ClusterIdentity } from "../kube/clusterIdentity.ts"
import { KubeClient } from "../kube/kubeClient.ts"
import { TunnelSettings } from "../tunnel/tunnelSettings.ts"
import { makeOrphanSweep, type Orphan, type SweepReport } from "./orphanSweep.ts"

const describe = (orphan: Orphan) => `${orphan.kind} ${orphan.name} (FlyTunnel ${orphan.tunnelUid} is gone)`

const print = (report: SweepReport, dryRun: boolean) =>
  Effect.gen(function* () {
    for (const orphan of report.removed) yield* Console.log(`removed ${describe(orphan)}`)
    for (const orphan of report.waiting) yield* Console.log(`${dryRun ? "would remove" : "orphan"} ${describe(orphan)}`)
    for (const { app, why } of report.notOurs) yield* Console.log(`left alone App ${app}: ${why}`)
  })

/**
 * `sweep`: one pass of the orphan sweep. With `--dry-run` it lists what it would remove and changes nothing. Without,
 * it looks twice, the grace period apart (`--sweep-grace-seconds`), and removes what stayed an orphan.
 */
export const runSweep = Effect.fn("runSweep")(function* (options: { dryRun: boolean; grace: Duration.Input }) {
  const sweep = yield* makeOrphanSweep()
  const first = yield* sweep(options)
  yield* print(first, options.dryRun)
  let removed = first.removed.length
  if (!options.dryRun && first.waiting.length > 0) {
    yield* Console.log(
      `waiting ${Duration.format(Duration.fromInputUnsafe(options.grace))} to see ${first.waiting.length} orphan(s) stay orphaned`,
    )
    yield* Effect.sleep(options.grace)
    const second = yield* sweep(options)
    yield* print(second, false)
    removed += second.removed.length
  }
  yield* Console.log(
    options.dryRun
      ? `dry run: ${first.waiting.length} orphan(s) found, nothing changed`
      : `${removed} orphan(s) removed`,
  )
})

/** `fly-tunnel-operator sweep [--dry-run] [settings]`: resolves with the exit code (2: a bad setting). */
export const sweepMain = (
  argv: ReadonlyArray<string>,
  env: Readonly<Record<string, string | undefined>>,
): Promise<number> => {
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(
      `fly-tunnel-operator sweep [--dry-run]: remove the Fly Apps of this cluster and the frpc objects whose FlyTunnel is gone\n\nSettings (flag or environment variable; the operator's):\n${settingsHelp()}\n`,
    )
    return Promise.resolve(0)
  }
  const dryRun = argv.includes("--dry-run")
  const program = Effect.gen(function* () {
    const config = yield* loadOperatorConfig(
      argv.filter((arg) => arg !== "--dry-run"),
      env,
    )
    if (config.operatorNamespace === "")
      return yield* new OperatorConfigError({
        problems: ["--operator-namespace (OPERATOR_NAMESPACE) is required: the namespace of the frpc objects"],
      })
    const kube = config.kubeconfig === "" ? KubeClient.layerDefault : KubeClient.layerFromFile(config.kubeconfig)
    const services = Layer.mergeAll(
      FlyClient.layer({ baseUrl: config.flyApiBaseUrl, token: config.flyApiToken }),
      ClusterIdentity.layer(config.clusterId),
      Layer.succeed(TunnelSettings, {
        flyOrg: config.flyOrg,
        frpsImage: config.frpsImage || FRPS_IMAGE,
        frpcImage: config.frpcImage || FRPC_IMAGE,
        operatorNamespace: config.operatorNamespace,
        goOperatorNamespace: config.goOperatorNamespace || config.operatorNamespace,
      }),
    ).pipe(Layer.provideMerge(kube))
    yield* runSweep({ dryRun, grace: `${config.sweepGraceSeconds} seconds` }).pipe(Effect.provide(services))
    return 0
  }).pipe(
    Effect.catchTag(["OperatorConfigError", "KubeconfigError"], (error) =>
      Console.error(error.message).pipe(Effect.as(2)),
    ),
    Effect.catch((error) => Console.error(`sweep failed: ${error.message}`).pipe(Effect.as(1))),
    // The report is the output; the sweep's own log lines would repeat it.
    Effect.provide(Logger.layer([])),
  )
  return Effect.runPromise(program)
}
