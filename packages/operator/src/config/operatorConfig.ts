import { readFileSync } from "node:fs"
import { Context, Effect, Redacted, Result, Schema } from "effect"
import { SETTINGS, type Setting } from "./operatorSettings.ts"

type Settings = typeof SETTINGS
type Decoded = { readonly [K in keyof Settings]: Settings[K] extends Setting<infer A> ? A : never }

export interface OperatorConfigShape extends Omit<Decoded, "flyApiToken" | "flyApiTokenFile" | "leaderElect"> {
  readonly flyApiToken: Redacted.Redacted<string>
  readonly leaderElect: boolean
}

export class OperatorConfig extends Context.Service<OperatorConfig, OperatorConfigShape>()(
  "@fly-tunnel-operator/operator/OperatorConfig",
) {}

export class OperatorConfigError extends Schema.TaggedError<OperatorConfigError>()("OperatorConfigError", {
  problems: Schema.Array(Schema.String),
}) {
  override get message(): string {
    return `invalid operator configuration:\n${this.problems.map((problem) => `  - ${problem}`).join("\n")}`
  }
}

const settingName = (setting: Setting<unknown>): string =>
  setting.flag === "" ? setting.env : `--${setting.flag} (${setting.env})`

/** `--name=value` and `--name value`; `--name` alone means "true". */
const parseFlags = (argv: ReadonlyArray<string>): { flags: Map<string, string>; unknown: Array<string> } => {
  const known = new Set(Object.values(SETTINGS).map((setting) => setting.flag))
  const flags = new Map<string, string>()
  const unknown: Array<string> = []
  for (let index = 0; index < argv.length; index++) {
    const argument = argv[index] ?? ""
    const match = /^--([a-z0-9-]+)(?:=(.*))?$/.exec(argument)
    if (match?.[1] === undefined || !known.has(match[1])) {
      unknown.push(argument)
      continue
    }
    const next = argv[index + 1]
    if (match[2] !== undefined) flags.set(match[1], match[2])
    else if (next !== undefined && !next.startsWith("--")) flags.set(match[1], argv[++index] ?? "")
    else flags.set(match[1], "true")
  }
  return { flags, unknown }
}

/**
 * Reads the operator's settings from flags and environment. Every problem is reported at once, each naming the
 * setting, so a bad start is fixed in one go.
 */
export const loadOperatorConfig = (
  argv: ReadonlyArray<string>,
  env: Readonly<Record<string, string | undefined>>,
  readFile: (path: string) => string = (path) => readFileSync(path, "utf8"),
): Effect.Effect<OperatorConfigShape, OperatorConfigError> =>
  Effect.suspend(() => {
    const { flags, unknown } = parseFlags(argv)
    const problems = unknown.map((argument) => `unknown argument ${argument}; run with --help for the settings`)
    const decoded: Record<string, unknown> = {}
    for (const [key, setting] of Object.entries(SETTINGS) as Array<[keyof Settings, Setting<unknown>]>) {
      const raw = (setting.flag === "" ? undefined : flags.get(setting.flag)) ?? env[setting.env] ?? setting.default
      if (raw === undefined) {
        problems.push(`${settingName(setting)} is required: ${setting.description}`)
        continue
      }
      const result = Schema.decodeUnknownResult(setting.schema)(raw)
      if (Result.isFailure(result))
        problems.push(`${settingName(setting)}=${JSON.stringify(raw)}: ${result.failure.message}`)
      else decoded[key] = result.success
    }
    let token = String(decoded.flyApiToken ?? "")
    const tokenFile = String(decoded.flyApiTokenFile ?? "")
    if (tokenFile !== "") {
      try {
        token = readFile(tokenFile).trim()
      } catch (error) {
        problems.push(
          `--fly-api-token-file (FLY_API_TOKEN_FILE): cannot read ${tokenFile}: ${(error as Error).message}`,
        )
      }
    }
    if (token === "" && problems.every((problem) => !problem.includes("FLY_API_TOKEN_FILE"))) {
      problems.push("a Fly API token is required: set FLY_API_TOKEN_FILE (--fly-api-token-file) or FLY_API_TOKEN")
    }
    if (problems.length > 0) return Effect.fail(new OperatorConfigError({ problems }))
    return Effect.succeed({
      ...(decoded as unknown as Decoded),
      flyApiToken: Redacted.make(token),
      leaderElect: decoded.leaderElect === "true",
    })
  })

/** Text for --help: every setting with its flag, variable and default. */
export const settingsHelp = (): string =>
  Object.values(SETTINGS)
    .map((setting: Setting<unknown>) => {
      const fallback = setting.default === undefined ? "required" : `default ${JSON.stringify(setting.default)}`
      return `  ${settingName(setting).padEnd(52)} ${setting.description} (${fallback})`
    })
    .join("\n")
