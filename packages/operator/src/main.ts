import { readFileSync } from "node:fs"
import { NodeRuntime } from "@effect/platform-node"
import { Effect, Layer, Logger, Ref, References } from "effect"
import { loadOperatorConfig, settingsHelp } from "./config/operatorConfig.ts"
import { healthServer, metricsServer } from "./http/operatorHttp.ts"
import { operatorLayer, runOperator } from "./operator.ts"

const IN_CLUSTER_NAMESPACE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"
const argv = process.argv.slice(2)

if (argv.includes("--help") || argv.includes("-h")) {
  process.stdout.write(
    `fly-tunnel-operator: public IPv4s for LoadBalancer Services through Fly.io\n\nSettings (flag or environment variable):\n${settingsHelp()}\n`,
  )
  process.exit(0)
}

const program = Effect.gen(function* () {
  const config = yield* loadOperatorConfig(argv, process.env)
  const operatorNamespace = config.operatorNamespace || readInClusterNamespace()
  if (operatorNamespace === "") {
    return yield* Effect.fail(
      new Error(
        "--operator-namespace (OPERATOR_NAMESPACE) is required outside a Pod: the namespace of frpc objects and the Lease",
      ),
    )
  }
  const full = { ...config, operatorNamespace }
  const synced = yield* Ref.make(false)
  // A standby replica is ready too: readiness gates traffic to /metrics, not leadership.
  const ready = config.leaderElect ? Effect.succeed(true) : Ref.get(synced)
  yield* Effect.logInfo("starting", {
    org: config.flyOrg,
    class: config.loadBalancerClass,
    namespace: operatorNamespace,
    leaderElection: config.leaderElect,
  })
  return yield* runOperator(full, synced).pipe(
    Effect.provide(
      Layer.mergeAll(operatorLayer(full), metricsServer(config.metricsAddr), healthServer(config.healthAddr, ready)),
    ),
    Effect.provideService(
      References.MinimumLogLevel,
      config.logLevel === "warn"
        ? "Warn"
        : config.logLevel === "error"
          ? "Error"
          : config.logLevel === "debug"
            ? "Debug"
            : "Info",
    ),
  )
})

function readInClusterNamespace(): string {
  try {
    return readFileSync(IN_CLUSTER_NAMESPACE, "utf8").trim()
  } catch {
    return ""
  }
}

program.pipe(
  Effect.catchTag("OperatorConfigError", (error) =>
    Effect.sync(() => {
      process.stderr.write(`${error.message}\n`)
      process.exit(2)
    }),
  ),
  Effect.provide(Logger.layer([Logger.consoleJson])),
  NodeRuntime.runMain,
)
