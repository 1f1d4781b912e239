import { Effect, Exit } from "effect"
import { describe, expect, it } from "vitest"
import type { OperatorConfigError } from "../src/config/operatorConfig.ts"
import { loadUninstallConfig } from "../src/uninstall/uninstallConfig.ts"

const load = (argv: ReadonlyArray<string>, env: Record<string, string>) =>
  Effect.runSyncExit(loadUninstallConfig(argv, env))

const problems = (exit: Exit.Exit<unknown, OperatorConfigError>): ReadonlyArray<string> =>
  Exit.isFailure(exit) ? (exit.cause.reasons.find((reason) => reason._tag === "Fail")?.error.problems ?? []) : []

/** What the chart's hook Job sets. */
const hookEnv = {
  UNINSTALL_TIMEOUT_SECONDS: "120",
  LOAD_BALANCER_CLASS: "example.com/lb",
  OPERATOR_NAMESPACE: "fto",
  OPERATOR_DEPLOYMENT: "fto-fly-tunnel-operator",
  OPERATOR_SELECTOR: "app.kubernetes.io/instance=fto,app.kubernetes.io/component=operator",
}

describe("uninstall hook configuration", () => {
  it("reads what the chart's Job sets, flags over environment", () => {
    const exit = load(["--timeout-seconds=30"], hookEnv)
    expect(Exit.isSuccess(exit) ? exit.value : exit).toEqual({
      timeoutSeconds: 30,
      loadBalancerClass: "example.com/lb",
      operatorNamespace: "fto",
      operatorDeployment: "fto-fly-tunnel-operator",
      operatorSelector: "app.kubernetes.io/instance=fto,app.kubernetes.io/component=operator",
      kubeconfig: "",
    })
  })

  it("defaults the timeout and the class", () => {
    const { UNINSTALL_TIMEOUT_SECONDS: _timeout, LOAD_BALANCER_CLASS: _class, ...rest } = hookEnv
    const exit = load([], rest)
    expect(Exit.isSuccess(exit) ? [exit.value.timeoutSeconds, exit.value.loadBalancerClass] : exit).toEqual([
      240,
      "fly-tunnel-operator.dev/lb",
    ])
  })

  it("reports every problem at once, each naming the setting and what it must be", () => {
    expect(problems(load(["--timeout-seconds=soon", "--verbose", "extra"], {}))).toEqual([
      "unknown argument --verbose",
      "unknown argument extra",
      "--operator-namespace (OPERATOR_NAMESPACE) is required",
      "--operator-deployment (OPERATOR_DEPLOYMENT) is required",
      "--operator-selector (OPERATOR_SELECTOR) is required",
      '--timeout-seconds (UNINSTALL_TIMEOUT_SECONDS)="soon" must be a positive whole number of seconds',
    ])
    expect(problems(load([], { ...hookEnv, UNINSTALL_TIMEOUT_SECONDS: "0" }))).toEqual([
      '--timeout-seconds (UNINSTALL_TIMEOUT_SECONDS)="0" must be a positive whole number of seconds',
    ])
  })
})
