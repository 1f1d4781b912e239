import { execFile } from "node:child_process"
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { promisify } from "node:util"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { bundleOperator } from "../src/build/bundle.ts"
import { operatorEnvironment, operatorNodeOptions } from "../src/build/imageRuntime.ts"

const run = promisify(execFile)

// The Dockerfile copies exactly this output; it must start on plain Node with no node_modules beside it.
describe("the operator bundle", () => {
  let dir = ""
  let bundle = ""
  let inputs: ReadonlyArray<string> = []
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "fto-bundle-"))
    bundle = join(dir, "operator.mjs")
    const metafile = await bundleOperator(bundle)
    inputs = Object.values(metafile.outputs).flatMap((output) => Object.keys(output.inputs))
  })
  afterAll(() => rm(dir, { recursive: true, force: true }))

  it("is one self-contained file that prints its settings", async () => {
    expect((await stat(bundle)).size).toBeGreaterThan(100_000)
    const { stdout } = await run(process.execPath, [bundle, "--help"], { cwd: dir })
    expect(stdout).toContain("--fly-org (FLY_ORG)")
    expect(stdout).toContain("--leader-elect (LEADER_ELECT)")
  })

  // Each cost the process tens of MiB of memory: HTTP goes through node:http, the kubeconfig is read by our own loader.
  it("carries neither undici nor client-node's code (type-only imports of its models cost nothing)", () => {
    expect(inputs.some((input) => input.includes("node_modules/@effect/"))).toBe(true)
    expect(inputs.filter((input) => /node_modules\/(undici|@kubernetes\/client-node)\//.test(input))).toEqual([])
  })

  it("stops at start naming every missing setting, with exit code 2", async () => {
    const failure = await run(process.execPath, [bundle], { cwd: dir, env: { PATH: process.env.PATH ?? "" } }).then(
      () => undefined,
      (error: { code: number; stderr: string }) => error,
    )
    expect(failure?.code).toBe(2)
    expect(failure?.stderr).toContain("--fly-org (FLY_ORG) is required")
    expect(failure?.stderr).toContain("a Fly API token is required")
  })

  it("stops at start with exit code 2 for a kubeconfig user that signs in through exec, naming the field", async () => {
    const kubeconfig = join(dir, "exec-kubeconfig")
    await writeFile(
      kubeconfig,
      JSON.stringify({
        "current-context": "c",
        clusters: [{ name: "c", cluster: { server: "https://127.0.0.1:6443" } }],
        users: [{ name: "u", user: { exec: { command: "aws", apiVersion: "client.authentication.k8s.io/v1" } } }],
        contexts: [{ name: "c", context: { cluster: "c", user: "u" } }],
      }),
    )
    const failure = await run(process.execPath, [bundle], {
      cwd: dir,
      env: {
        PATH: process.env.PATH ?? "",
        KUBECONFIG: kubeconfig,
        FLY_ORG: "acme",
        FLY_API_TOKEN: "fm2_test",
        OPERATOR_NAMESPACE: "fto",
      },
    }).then(
      () => undefined,
      (error: { code: number; stderr: string }) => error,
    )
    expect(failure?.code).toBe(2)
    expect(failure?.stderr).toContain("users[u].user.exec is not supported")
  })

  it("is run by the image with the options and environment pnpm bench measures", async () => {
    const dockerfile = await readFile(new URL("../../../Dockerfile", import.meta.url), "utf8")
    const entrypoint = /^ENTRYPOINT (.+)$/m.exec(dockerfile)?.[1]
    expect(JSON.parse(entrypoint ?? "[]")).toEqual(["/nodejs/bin/node", ...operatorNodeOptions, "/app/operator.mjs"])
    for (const [name, value] of Object.entries(operatorEnvironment))
      expect(dockerfile).toMatch(new RegExp(`^ENV .*\\b${name}=${value}\\b`, "m"))
    const { stdout } = await run(process.execPath, [...operatorNodeOptions, bundle, "--help"], {
      cwd: dir,
      env: { PATH: process.env.PATH ?? "", ...operatorEnvironment },
    })
    expect(stdout).toContain("--fly-org (FLY_ORG)")
  })

  it("runs the chart's uninstall hook command too: `uninstall` with a missing setting exits 2 naming it", async () => {
    const failure = await run(process.execPath, [bundle, "uninstall"], {
      cwd: dir,
      env: { PATH: process.env.PATH ?? "", OPERATOR_NAMESPACE: "fto", OPERATOR_SELECTOR: "app=fto" },
    }).then(
      () => undefined,
      (error: { code: number; stderr: string }) => error,
    )
    expect(failure?.code).toBe(2)
    expect(failure?.stderr).toContain("--operator-deployment (OPERATOR_DEPLOYMENT) is required")
    expect(failure?.stderr).not.toContain("FLY_ORG")
  })
})
