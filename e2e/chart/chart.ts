import { fileURLToPath } from "node:url"
import type { Tools } from "@fly-tunnel-operator/local-stack"
import { loadAllYaml } from "@kubernetes/client-node"
import { Effect } from "effect"
import { inject } from "vitest"
import { type CommandResult, runCommand } from "./command.ts"

export const repoRoot = fileURLToPath(new URL("../../", import.meta.url))
export const chartDir = fileURLToPath(new URL("../../charts/fly-tunnel-operator/", import.meta.url))

/** The least a user must give: an org and a token. */
export const minimalValues = { flyOrg: "acme", flyApiToken: "fo1_test-token" } as const

/** A rendered object; tests narrow it to the client-node type of its kind. */
export interface Manifest {
  readonly apiVersion: string
  readonly kind: string
  readonly metadata: { readonly name: string; readonly namespace?: string; readonly labels?: Record<string, string> }
  readonly [field: string]: unknown
}

export interface RenderOptions {
  readonly release?: string
  readonly namespace?: string
}

/** `helm template` with `values` (as a values file on stdin); the raw result, for tests about failures. */
export const helmTemplate = (helm: string, values: object, options: RenderOptions = {}): Effect.Effect<CommandResult> =>
  runCommand(
    helm,
    [
      "template",
      options.release ?? "fto",
      chartDir,
      "--namespace",
      options.namespace ?? "fly-tunnel-operator",
      "--values",
      "-",
    ],
    { input: JSON.stringify(values) },
  ).pipe(Effect.orDie)

/** Renders the chart and parses every object; a helm failure is a test defect carrying helm's message. */
export const renderChart = (helm: string, values: object, options: RenderOptions = {}) =>
  helmTemplate(helm, values, options).pipe(
    Effect.flatMap((result) =>
      result.exitCode === 0
        ? Effect.succeed(
            (loadAllYaml(result.stdout) as ReadonlyArray<Manifest | null>).filter(
              (manifest): manifest is Manifest => manifest !== null,
            ),
          )
        : Effect.die(new Error(`helm template failed:\n${result.stderr}`)),
    ),
  )

export const kindsOf = (manifests: ReadonlyArray<Manifest>) => manifests.map((manifest) => manifest.kind).sort()

/** The one object of `kind`; fails the test when there is none or more than one. */
export const only = <T>(manifests: ReadonlyArray<Manifest>, kind: string): T => {
  const found = manifests.filter((manifest) => manifest.kind === kind)
  if (found.length !== 1) throw new Error(`expected exactly one ${kind}, found ${found.length}`)
  return found[0] as T
}

/** The helm binary from the tools global setup. */
export const helmBinary = (): string => toolsOrFail().helm

/** The real binaries provided by packages/testkit/src/vitest/toolsSetup.ts. */
export const toolsOrFail = (): Tools => {
  const tools = inject("tools") as Tools | undefined
  if (tools === undefined) {
    throw new Error(
      "no tools were provided to this vitest project: its globalSetup must include " +
        "packages/testkit/src/vitest/toolsSetup.ts (vitest.config.ts); `pnpm tools` builds the binaries",
    )
  }
  return tools
}
