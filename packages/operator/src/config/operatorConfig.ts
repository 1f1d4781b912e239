import { readFileSync } from "node:fs"
import { parseArgs } from "node:util"
import { Effect, Redacted, Result, Schema, SchemaIssue, Struct } from "effect"
import { SETTINGS, type Setting } from "./operatorSettings.ts"

interface SchemaOfSetting extends Struct.Lambda {
  <A>(setting: Setting<A>): Schema.Codec<A, string>
  readonly "~lambda.out": this["~lambda.in"] extends Setting<infer A> ? Schema.Codec<A, string> : never
}

/** Every setting decoded at once from its text: one Struct, typed field by field from the SETTINGS table. */
const SettingsSchema = Schema.Struct(
  Struct.map(
    SETTINGS,
    Struct.lambda<SchemaOfSetting>((setting) => setting.schema),
  ),
)
const decodeSettings = Schema.decodeUnknownResult(SettingsSchema)
type Decoded = typeof SettingsSchema.Type

export interface OperatorConfig
  extends Omit<Decoded, "flyApiToken" | "flyApiTokenFile" | "leaderElect" | "adoptionEnabled"> {
  readonly flyApiToken: Redacted.Redacted<string>
  readonly leaderElect: boolean
  readonly adoptionEnabled: boolean
}

/** A setting the operator cannot start with; the process exits with code 2. */
export class OperatorConfigError extends Schema.TaggedError<OperatorConfigError>()("OperatorConfigError", {
  problems: Schema.Array(Schema.String),
}) {
  override get message(): string {
    return `invalid operator configuration:\n${this.problems.map((problem) => `  - ${problem}`).join("\n")}`
  }
}

const settingName = (setting: Setting<unknown>): string =>
  setting.flag === "" ? setting.env : `--${setting.flag} (${setting.env})`

const formatIssues = SchemaIssue.makeFormatterStandardSchemaV1()

/**
 * `--name=value` or `--name value` for every setting that has a flag. Anything else is a problem, reported with the
 * others (node's parseArgs, non-strict so that one bad argument does not hide the rest).
 */
const parseFlags = (argv: ReadonlyArray<string>) => {
  const known = new Set(Object.values(SETTINGS).map((setting) => setting.flag))
  const options = Object.fromEntries(
    [...known].filter((flag) => flag !== "").map((flag) => [flag, { type: "string" as const }]),
  )
  const { tokens } = parseArgs({ args: [...argv], options, strict: false, allowPositionals: true, tokens: true })
  const values: Record<string, string> = {}
  const problems: Array<string> = []
  for (const token of tokens) {
    if (token.kind === "positional") problems.push(`unknown argument ${token.value}; run with --help for the settings`)
    else if (token.kind === "option" && !known.has(token.name))
      problems.push(`unknown argument ${token.rawName}; run with --help for the settings`)
    else if (token.kind === "option" && token.value === undefined) problems.push(`${token.rawName} needs a value`)
    else if (token.kind === "option" && token.value !== undefined) values[token.name] = token.value
  }
  return { values, problems }
}

/** Defaults the tenant limits themselves refuse: every Service without annotations would be refused. */
const policyConflicts = (settings: Decoded): ReadonlyArray<string> => [
  ...(settings.tenantMachineSizes.length > 0 && !settings.tenantMachineSizes.includes(settings.flyMachineSize)
    ? [
        `${settingName(SETTINGS.flyMachineSize)}=${JSON.stringify(settings.flyMachineSize)} is not among ${settingName(SETTINGS.tenantMachineSizes)}`,
      ]
    : []),
  ...(settings.tenantRegions.length > 0 && !settings.tenantRegions.includes(settings.flyRegion)
    ? [
        `${settingName(SETTINGS.flyRegion)}=${JSON.stringify(settings.flyRegion)} is not among ${settingName(SETTINGS.tenantRegions)}`,
      ]
    : []),
]

/**
 * Reads the operator's settings from flags and environment. Every problem is reported at once, each naming the
 * setting, so a bad start is fixed in one go.
 */
export const loadOperatorConfig = (
  argv: ReadonlyArray<string>,
  env: Readonly<Record<string, string | undefined>>,
  readFile: (path: string) => string = (path) => readFileSync(path, "utf8"),
): Effect.Effect<OperatorConfig, OperatorConfigError> =>
  Effect.suspend(() => {
    const { values: flags, problems } = parseFlags(argv)
    const raw: Record<string, string> = {}
    for (const [key, setting] of Object.entries(SETTINGS)) {
      const value = (setting.flag === "" ? undefined : flags[setting.flag]) ?? env[setting.env] ?? setting.default
      if (value === undefined) problems.push(`${settingName(setting)} is required: ${setting.description}`)
      else raw[key] = value
    }
    const decoded = decodeSettings(raw, { errors: "all" })
    if (Result.isFailure(decoded)) {
      for (const issue of formatIssues(decoded.failure.issue).issues) {
        const key = String(issue.path?.[0] ?? "")
        const setting = Object.entries(SETTINGS).find(([name]) => name === key)?.[1]
        // A missing value is already reported above, as required.
        if (setting !== undefined && raw[key] !== undefined) {
          problems.push(`${settingName(setting)}=${JSON.stringify(raw[key])}: ${issue.message}`)
        }
      }
    }
    let token = raw.flyApiToken ?? ""
    const tokenFile = raw.flyApiTokenFile ?? ""
    if (tokenFile !== "") {
      try {
        token = readFile(tokenFile).trim()
      } catch (error) {
        problems.push(
          `--fly-api-token-file (FLY_API_TOKEN_FILE): cannot read ${tokenFile}: ${error instanceof Error ? error.message : String(error)}`,
        )
      }
    }
    if (token === "" && problems.every((problem) => !problem.includes("FLY_API_TOKEN_FILE"))) {
      problems.push("a Fly API token is required: set FLY_API_TOKEN_FILE (--fly-api-token-file) or FLY_API_TOKEN")
    }
    if (Result.isSuccess(decoded)) problems.push(...policyConflicts(decoded.success))
    if (problems.length > 0 || Result.isFailure(decoded)) return Effect.fail(new OperatorConfigError({ problems }))
    const { flyApiToken: _token, flyApiTokenFile: _file, leaderElect, adoptionEnabled, ...settings } = decoded.success
    return Effect.succeed({
      ...settings,
      flyApiToken: Redacted.make(token),
      leaderElect: leaderElect === "true",
      adoptionEnabled: adoptionEnabled === "true",
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
