import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { runMode } from "../src/cli/runMode.ts"

const emptyHome = mkdtempSync(join(tmpdir(), "fto-home-"))
const homeWithKubeconfig = mkdtempSync(join(tmpdir(), "fto-home-"))
mkdirSync(join(homeWithKubeconfig, ".kube"))
writeFileSync(join(homeWithKubeconfig, ".kube", "config"), "")

describe("./dev start run mode", () => {
  it("runs against the cluster with a kubeconfig and a Fly token", () => {
    expect(runMode({ KUBECONFIG: "/k", FLY_API_TOKEN_FILE: "/t" }, [], emptyHome)._tag).toBe("Cluster")
    expect(runMode({ FLY_API_TOKEN: "fo1_x" }, [], homeWithKubeconfig)._tag).toBe("Cluster")
  })

  it("boots the local stack with neither, or when asked with --local", () => {
    expect(runMode({}, [], emptyHome)._tag).toBe("Local")
    expect(runMode({ KUBECONFIG: "/k", FLY_API_TOKEN: "fo1_x" }, ["--local"], emptyHome)._tag).toBe("Local")
  })

  it("names what is missing when only one of them is there, without echoing the token", () => {
    const noToken = runMode({}, [], homeWithKubeconfig)
    expect(noToken).toMatchObject({ _tag: "Incomplete" })
    expect(noToken._tag === "Incomplete" && noToken.message).toMatch(
      /no Fly token: set FLY_API_TOKEN_FILE.*run `\.\/dev start --local`/,
    )
    const noKubeconfig = runMode({ FLY_API_TOKEN: "fo1_secret" }, [], emptyHome)
    expect(noKubeconfig._tag === "Incomplete" && noKubeconfig.message).toMatch(/no kubeconfig: set KUBECONFIG/)
    expect(noKubeconfig._tag === "Incomplete" && noKubeconfig.message).not.toContain("fo1_secret")
  })
})
