import { parseArgs } from "node:util"
import { DEFAULT_LOAD_BALANCER_CLASS } from "@fly-tunnel-operator/api"
import { Effect, Result, Schema } from "effect"
import { OperatorConfigError } from "../config/operatorConfig.ts"

/**
 * Settings of `uninstall`, the chart's pre-delete hook: flags or environment variables, as the operator's own.
 * The hook sets them from the release; a bad one exits 2 naming it.
 */
export interface UninstallConfig {
  /** How long to wait for the operator's teardown before giving up and reporting what remains. */
  readonly timeoutSeconds: number
  /** Services of this class (holding our finalizer) are released once their tunnels are gone. */
  readonly loadBalancerClass: string
  /** The release namespace: where the operator's Deployment and Pods are. */
  readonly operatorNamespace: string
  /** The operator's Deployment, scaled to zero once every tunnel is gone. */
  readonly operatorDeployment: string
  /** Label selector of the operator's Pods; the hook waits until none is left. */
  readonly operatorSelector: string
  /** A kubeconfig; in a Pod, the hook's own ServiceAccount when unset. */
  readonly kubeconfig: string
}

const PositiveInt = Schema.NumberFromString.check(Schema.isInt(), Schema.isGreaterThan(0))
const NonEmpty = Schema.NonEmptyString

const settings = {
  timeoutSeconds: {
    flag: "timeout-seconds",
    env: "UNINSTALL_TIMEOUT_SECONDS",
    schema: PositiveInt,
    default: "240",
    hint: "a positive whole number of seconds",
  },
  loadBalancerClass: {
    flag: "load-balancer-class",
    env: "LOAD_BALANCER_CLASS",
    schema: NonEmpty,
    default: DEFAULT_LOAD_BALANCER_CLASS,
    hint: "not empty",
  },
  operatorNamespace: {
    flag: "operator-namespace",
    env: "OPERATOR_NAMESPACE",
    schema: NonEmpty,
    default: undefined,
    hint: "not empty",
  },
  operatorDeployment: {
    flag: "operator-deployment",
    env: "OPERATOR_DEPLOYMENT",
    schema: NonEmpty,
    default: undefined,
    hint: "not empty",
  },
  operatorSelector: {
    flag: "operator-selector",
    env: "OPERATOR_SELECTOR",
    schema: NonEmpty,
    default: undefined,
    hint: "not empty",
  },
  kubeconfig: { flag: "kubeconfig", env: "KUBECONFIG", schema: Schema.String, default: "", hint: "a path" },
} as const

const ConfigSchema = Schema.Struct({
  timeoutSeconds: settings.timeoutSeconds.schema,
  loadBalancerClass: settings.loadBalancerClass.schema,
  operatorNamespace: settings.operatorNamespace.schema,
  operatorDeployment: settings.operatorDeployment.schema,
  operatorSelector: settings.operatorSelector.schema,
  kubeconfig: settings.kubeconfig.schema,
})

export const uninstallHelp = (): string =>
  Object.values(settings)
    .map((setting) => {
      const fallback = setting.default === undefined ? "required" : `default ${JSON.stringify(setting.default)}`
      return `  --${setting.flag} (${setting.env})`.padEnd(56) + fallback
    })
    .join("\n")

/** Reads the hook's settings from `argv` (after `uninstall`) and `env`; every problem is reported at once. */
export const loadUninstallConfig = (
  argv: ReadonlyArray<string>,
  env: Readonly<Record<string, string | undefined>>,
): Effect.Effect<UninstallConfig, OperatorConfigError> =>
  Effect.suspend(() => {
    const problems: Array<string> = []
    const options = Object.fromEntries(Object.values(settings).map((s) => [s.flag, { type: "string" as const }]))
    const { tokens } = parseArgs({ args: [...argv], options, strict: false, allowPositionals: true, tokens: true })
    const flags: Record<string, string> = {}
    for (const token of tokens) {
      if (token.kind === "positional") problems.push(`unknown argument ${token.value}`)
      else if (token.kind === "option" && !(token.name in options)) problems.push(`unknown argument ${token.rawName}`)
      else if (token.kind === "option" && token.value === undefined) problems.push(`${token.rawName} needs a value`)
      else if (token.kind === "option" && token.value !== undefined) flags[token.name] = token.value
    }
    const raw: Record<string, string> = {}
    for (const [key, setting] of Object.entries(settings)) {
      const value = flags[setting.flag] ?? env[setting.env] ?? setting.default
      if (value === undefined) problems.push(`--${setting.flag} (${setting.env}) is required`)
      else raw[key] = value
    }
    const decoded = Schema.decodeUnknownResult(ConfigSchema)(raw, { errors: "all" })
    if (Result.isFailure(decoded)) {
      for (const [key, setting] of Object.entries(settings)) {
        const value = raw[key]
        if (value === undefined) continue
        if (Result.isFailure(Schema.decodeUnknownResult(setting.schema)(value))) {
          problems.push(`--${setting.flag} (${setting.env})=${JSON.stringify(value)} must be ${setting.hint}`)
        }
      }
    }
    if (problems.length > 0 || Result.isFailure(decoded)) return Effect.fail(new OperatorConfigError({ problems }))
    return Effect.succeed(decoded.success)
  })
