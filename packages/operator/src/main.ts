import { readFileSync } from "node:fs"
import { NodeRuntime } from "@effect/platform-node"
import { Effect, Layer, Logger, Ref, References } from "effect"
import { loadOperatorConfig, OperatorConfigError, settingsHelp } from "./config/operatorConfig.ts"
import { healthServer, metricsServer } from "./http/operatorHttp.ts"
import { operatorLayer, runOperator } from "./operator.ts"
import { sweepMain } from "./sweep/sweepCommand.ts"
import { uninstallMain } from "./uninstall/uninstallCommand.ts"

const IN_CLUSTER_NAMESPACE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"
const argv = process.argv.slice(2)

// `sweep [--dry-run]`: one pass of the orphan sweep, with the operator's settings.
if (argv[0] === "sweep") process.exit(await sweepMain(argv.slice(1), process.env))
// `uninstall`: the chart's pre-delete hook runs the same image with this command instead of the operator.
if (argv[0] === "uninstall") process.exit(await uninstallMain(argv.slice(1), process.env))

if (argv.includes("--help") || argv.includes("-h")) {
  process.stdout.write(
    `fly-tunnel-operator: public IPv4s for LoadBalancer Services through Fly.io\n\nSettings (flag or environment variable):\n${settingsHelp()}\n`,
  )
  process.exit(0)
}

const readInClusterNamespace = (): string => {
  try {
    return readFileSync(IN_CLUSTER_NAMESPACE, "utf8").trim()
  } catch {
    return ""
  }
}

const logLevels = { debug: "Debug", info: "Info", warn: "Warn", error: "Error" } as const

const program = Effect.gen(function* () {
  const loaded = yield* loadOperatorConfig(argv, process.env)
  const config = { ...loaded, operatorNamespace: loaded.operatorNamespace || readInClusterNamespace() }
  if (config.operatorNamespace === "") {
    return yield* new OperatorConfigError({
      problems: [
        "--operator-namespace (OPERATOR_NAMESPACE) is required outside a Pod: the namespace of frpc objects and the Lease",
      ],
    })
  }
  const synced = yield* Ref.make(false)
  // A standby replica is ready too: readiness gates traffic to /metrics, not leadership.
  const ready = config.leaderElect ? Effect.succeed(true) : Ref.get(synced)
  yield* Effect.logInfo("starting", {
    org: config.flyOrg,
    class: config.loadBalancerClass,
    namespace: config.operatorNamespace,
    leaderElection: config.leaderElect,
  })
  return yield* runOperator(config, synced).pipe(
    Effect.provide(
      Layer.mergeAll(operatorLayer(config), metricsServer(config.metricsAddr), healthServer(config.healthAddr, ready)),
    ),
    Effect.provideService(References.MinimumLogLevel, logLevels[config.logLevel]),
  )
})

program.pipe(
  // A setting the operator cannot start with (a kubeconfig among them): say which, and exit 2 (as a bad flag does).
  Effect.catchTag(["OperatorConfigError", "KubeconfigError"], (error) =>
    Effect.sync(() => {
      process.stderr.write(`${error.message}\n`)
      process.exit(2)
    }),
  ),
  Effect.catchTag("ClusterIdentityUnavailable", (error) =>
    Effect.sync(() => {
      process.stderr.write(`${error.message}\n`)
      process.exit(1)
    }),
  ),
  Effect.provide(Logger.layer([Logger.consoleJson])),
  NodeRuntime.runMain,
)
