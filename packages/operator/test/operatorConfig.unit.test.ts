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

  it("reads the tunnel policy: address targets and tenant limits, with the chart's defaults", () => {
    const defaults = load([], { FLY_ORG: "acme", FLY_API_TOKEN: "t" })
    expect(Exit.isSuccess(defaults) && defaults.value).toMatchObject({
      addressTargetsEnabled: "true",
      addressTargetsAllowedCidrs: ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"],
      addressTargetsAllowedHostnames: [],
      addressTargetsRefusedCidrs: [],
      tenantMachineSizes: [],
      tenantRegions: [],
      tenantMaxRegions: 10,
      tenantMaxFrpcReplicas: 10,
      tenantAllowFrpcScheduling: "true",
      tenantNamespaceSelector: {},
    })
    const set = load(
      [
        "--address-targets-allowed-cidrs=192.168.1.0/24, fd00::/8",
        "--address-targets-allowed-hostnames=lan.example.com,.home.arpa",
        "--tenant-machine-sizes=shared-cpu-1x,shared-cpu-2x",
        "--tenant-regions=ord,ams",
        "--tenant-max-regions=2",
        '--tenant-namespace-selector={"matchLabels":{"tunnels":"allowed"}}',
      ],
      { FLY_ORG: "acme", FLY_API_TOKEN: "t" },
    )
    expect(Exit.isSuccess(set) && set.value).toMatchObject({
      addressTargetsAllowedCidrs: ["192.168.1.0/24", "fd00::/8"],
      addressTargetsAllowedHostnames: ["lan.example.com", ".home.arpa"],
      tenantMachineSizes: ["shared-cpu-1x", "shared-cpu-2x"],
      tenantRegions: ["ord", "ams"],
      tenantMaxRegions: 2,
      tenantNamespaceSelector: { matchLabels: { tunnels: "allowed" } },
    })
  })

  it("names a bad policy setting, and defaults the limits themselves would refuse", () => {
    const exit = load(
      [
        "--address-targets-allowed-cidrs=10.0.0.0/8,10.0.0.0/33",
        "--tenant-max-frpc-replicas=11",
        "--tenant-machine-sizes=performance-1x",
        "--tenant-regions=ams",
        "--tenant-namespace-selector=team=a",
      ],
      { FLY_ORG: "acme", FLY_API_TOKEN: "t" },
    )
    const found = problems(exit)
    expect(found).toEqual([
      expect.stringContaining("--address-targets-allowed-cidrs (ADDRESS_TARGETS_ALLOWED_CIDRS)"),
      expect.stringContaining("--tenant-max-frpc-replicas (TENANT_MAX_FRPC_REPLICAS)"),
      expect.stringContaining("--tenant-namespace-selector (TENANT_NAMESPACE_SELECTOR)"),
    ])
    expect(found[0]).toContain("10.0.0.0/33 is not an IP range")
    const conflicts = problems(
      load(["--tenant-machine-sizes=performance-1x", "--tenant-regions=ams"], { FLY_ORG: "acme", FLY_API_TOKEN: "t" }),
    )
    expect(conflicts).toEqual([
      '--fly-machine-size (FLY_MACHINE_SIZE)="shared-cpu-1x" is not among --tenant-machine-sizes (TENANT_MACHINE_SIZES)',
      '--fly-region (FLY_REGION)="ord" is not among --tenant-regions (TENANT_REGIONS)',
    ])
  })
})
