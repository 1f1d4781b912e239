import { Effect, Exit, Redacted } from "effect"
import { describe, expect, it } from "vitest"
import { loadOperatorConfig, type OperatorConfigError } from "../src/config/operatorConfig.ts"

const load = (argv: ReadonlyArray<string>, env: Record<string, string>, files: Record<string, string> = {}) =>
  Effect.runSyncExit(
    loadOperatorConfig(argv, env, (path) => {
      const content = files[path]
      if (content === undefined) throw new Error("no such file")
      return content
    }),
  )

const problems = (exit: Exit.Exit<unknown, OperatorConfigError>): ReadonlyArray<string> =>
  Exit.isFailure(exit) ? (exit.cause.reasons.find((reason) => reason._tag === "Fail")?.error.problems ?? []) : []

describe("operator configuration", () => {
  it("reads flags over environment, with defaults, and the token from a file", () => {
    const exit = load(
      ["--fly-org=acme", "--log-level", "debug", "--leader-elect=false"],
      {
        FLY_ORG: "ignored",
        FLY_API_TOKEN_FILE: "/token",
        OPERATOR_NAMESPACE: "fto",
      },
      { "/token": "fm2_secret\n" },
    )
    expect(Exit.isSuccess(exit)).toBe(true)
    if (!Exit.isSuccess(exit)) return
    expect(exit.value).toMatchObject({
      flyOrg: "acme",
      logLevel: "debug",
      leaderElect: false,
      flyRegion: "ord",
      loadBalancerClass: "fly-tunnel-operator.dev/lb",
      metricsAddr: ":8080",
      resyncSeconds: 600,
    })
    expect(Redacted.value(exit.value.flyApiToken)).toBe("fm2_secret")
  })

  it("names every bad or missing setting at once, without echoing the token", () => {
    const exit = load(["--log-level=loud", "--bogus"], { FLY_REGION: "Chicago", FLY_API_TOKEN: "" })
    const found = problems(exit)
    expect(found).toEqual([
      "unknown argument --bogus; run with --help for the settings",
      expect.stringContaining("--fly-org (FLY_ORG) is required"),
      expect.stringContaining('--fly-region (FLY_REGION)="Chicago"'),
      expect.stringContaining('--log-level (LOG_LEVEL)="loud"'),
      expect.stringContaining("a Fly API token is required"),
    ])
  })

  it("reports an unreadable token file by its setting", () => {
    const exit = load([], { FLY_ORG: "acme", FLY_API_TOKEN_FILE: "/missing" })
    expect(problems(exit)).toEqual([expect.stringContaining("FLY_API_TOKEN_FILE): cannot read /missing")])
  })
})
