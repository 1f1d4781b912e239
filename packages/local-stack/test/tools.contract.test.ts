import { execFile } from "node:child_process"
import { promisify } from "node:util"
import { describe, expect, inject, it } from "vitest"
import {
  ACTIONLINT_VERSION,
  DISTRIBUTION_VERSION,
  FRP_VERSION,
  HELM_VERSION,
  KUBERNETES_VERSION,
} from "../src/tools/versions.ts"

const run = async (path: string, args: ReadonlyArray<string>): Promise<string> => {
  const { stdout, stderr } = await promisify(execFile)(path, args)
  return stdout + stderr
}

describe("real tool binaries", () => {
  const tools = inject("tools")

  it("helm runs and is the pinned version", async () => {
    expect(await run(tools.helm, ["version", "--short"])).toContain(HELM_VERSION)
  })

  it("frps and frpc are the pinned frp release", async () => {
    const version = FRP_VERSION.replace(/^v/, "")
    expect((await run(tools.frps, ["--version"])).trim()).toBe(version)
    expect((await run(tools.frpc, ["--version"])).trim()).toBe(version)
  })

  it("the Kubernetes binaries report the pinned release", async () => {
    expect(await run(tools.kubectl, ["version", "--client"])).toContain(KUBERNETES_VERSION)
    for (const binary of [tools["kube-apiserver"], tools["kube-controller-manager"], tools["kube-scheduler"]]) {
      expect(await run(binary, ["--version"])).toContain(KUBERNETES_VERSION)
    }
    expect(await run(tools.etcd, ["--version"])).toMatch(/etcd Version: 3\.\d+\.\d+/)
  })

  it("actionlint and the CNCF registry are the pinned versions", async () => {
    expect((await run(tools.actionlint, ["-version"])).split("\n")[0]).toBe(ACTIONLINT_VERSION)
    expect((await run(tools.registry, ["--version"])).trim()).toMatch(new RegExp(` ${DISTRIBUTION_VERSION}$`))
  })
})
