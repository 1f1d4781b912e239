import { describe, expect, it } from "vitest"
import { goDurationMs, queryDurationMs } from "../src/runtime/goDuration.ts"
import { knownImage } from "../src/runtime/knownImages.ts"
import { guestCommand, resolveProgram, rewriteGuestPaths } from "../src/runtime/machineCommand.ts"
import { machineEnv } from "../src/runtime/machineEnv.ts"

const frps = knownImage("ghcr.io/fatedier/frps:v0.71.0@sha256:abc", { frps: "/opt/bin/frps" })

describe("machine command", () => {
  it("knows frps images only", () => {
    expect(frps?.entrypoint).toEqual(["/usr/bin/frps"])
    expect(knownImage("ubuntu:latest", { frps: "/opt/bin/frps" })).toBeUndefined()
  })

  it("follows Fly's init semantics", () => {
    if (!frps) throw new Error("frps image unknown")
    expect(guestCommand(frps, undefined)).toEqual(["/usr/bin/frps"])
    expect(guestCommand(frps, { cmd: ["-c", "/etc/frp/frps.toml"] })).toEqual([
      "/usr/bin/frps",
      "-c",
      "/etc/frp/frps.toml",
    ])
    expect(guestCommand(frps, { exec: ["/bin/sh", "-c", "x"], cmd: ["ignored"] })).toEqual(["/bin/sh", "-c", "x"])
    expect(guestCommand(frps, { entrypoint: ["frps", "-c"], cmd: ["/x.toml"] })).toEqual(["frps", "-c", "/x.toml"])
  })

  it("maps guest programs to host binaries", () => {
    if (!frps) throw new Error("frps image unknown")
    expect(resolveProgram(frps, "frps")).toEqual({ guestPath: "/usr/bin/frps", binary: "/opt/bin/frps" })
    expect(resolveProgram(frps, "/bin/sh")).toBeUndefined()
  })

  it("rewrites arguments naming guest files", () => {
    const files = new Map([["/etc/frp/frps.toml", "/tmp/m/root/etc/frp/frps.toml"]])
    expect(
      rewriteGuestPaths(["-c", "/etc/frp/frps.toml", "--config=/etc/frp/frps.toml", "/etc/other"], (p) => files.get(p)),
    ).toEqual(["-c", "/tmp/m/root/etc/frp/frps.toml", "--config=/tmp/m/root/etc/frp/frps.toml", "/etc/other"])
  })
})

describe("machine env", () => {
  it("adds Fly's variables, which the config cannot override", () => {
    const env = machineEnv(
      { id: "148e21ea1", app: "frp-x", instanceId: "01J", image: "frps:v1", region: "ams", privateIp: "fdaa::2" },
      { FRP_TOKEN: "t", FLY_REGION: "fake" },
    )
    expect(env).toMatchObject({
      FRP_TOKEN: "t",
      FLY_APP_NAME: "frp-x",
      FLY_MACHINE_ID: "148e21ea1",
      FLY_REGION: "ams",
      FLY_PRIVATE_IP: "fdaa::2",
      FLY_IMAGE_REF: "frps:v1",
    })
  })
})

describe("Go durations", () => {
  it("parses Fly's duration strings", () => {
    expect(goDurationMs("10s")).toBe(10_000)
    expect(goDurationMs("1m30s")).toBe(90_000)
    expect(goDurationMs("500ms")).toBe(500)
    expect(goDurationMs("0s")).toBe(0)
    expect(goDurationMs("1500us")).toBe(1.5)
    // fly-go's Duration also travels as integer nanoseconds.
    expect(goDurationMs(2_000_000_000)).toBe(2_000)
    expect(goDurationMs(-1)).toBeUndefined()
    expect(goDurationMs("soon")).toBeUndefined()
    expect(goDurationMs(undefined)).toBeUndefined()
  })

  it("reads query durations: Go strings, or bare numbers as seconds; NaN for anything else", () => {
    expect(queryDurationMs("30")).toBe(30_000)
    expect(queryDurationMs("30s")).toBe(30_000)
    expect(queryDurationMs("1m")).toBe(60_000)
    expect(queryDurationMs(null)).toBeUndefined()
    expect(queryDurationMs("")).toBeUndefined()
    expect(queryDurationMs("soon")).toBeNaN()
  })
})
