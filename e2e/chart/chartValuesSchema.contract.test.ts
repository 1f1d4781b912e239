import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { helmBinary, helmTemplate, minimalValues } from "./chart.ts"

const helm = helmBinary()

/** Renders `values` and expects helm to refuse them with every one of `messages` in its error output. */
const expectRefused = (values: object, messages: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const result = yield* helmTemplate(helm, values)
    expect(result.exitCode, "helm accepted the values").not.toBe(0)
    expect(result.stderr).toContain("values don't meet the specifications of the schema")
    for (const message of messages) expect(result.stderr).toContain(message)
  })

describe("values.schema.json", () => {
  it.effect("flyOrg is required", () => expectRefused({ flyApiToken: "t" }, ["at '/flyOrg': minLength: got 0, want 1"]))

  it.effect("a token is required unless existingSecret is set, and the message names both", () =>
    expectRefused({ flyOrg: "acme" }, ["at '/flyApiToken'", "at '/existingSecret'"]),
  )

  it.effect("existingSecret alone is enough: no token is required", () =>
    Effect.gen(function* () {
      const result = yield* helmTemplate(helm, { flyOrg: "acme", existingSecret: "fly-token" })
      expect(result.stderr).toBe("")
      expect(result.exitCode).toBe(0)
    }),
  )

  it.effect("logLevel must be a known level", () =>
    expectRefused({ ...minimalValues, logLevel: "loud" }, [
      "at '/logLevel': value must be one of 'debug', 'info', 'warn', 'error'",
    ]),
  )

  it.effect("flyRegion must be a three-letter region code", () =>
    expectRefused({ ...minimalValues, flyRegion: "Chicago" }, ["at '/flyRegion': 'Chicago' does not match pattern"]),
  )

  it.effect("flyMachineSize must be a Fly size preset", () =>
    expectRefused({ ...minimalValues, flyMachineSize: "shared-cpu-3x" }, [
      "at '/flyMachineSize': value must be one of 'shared-cpu-1x'",
    ]),
  )

  it.effect("frp images must be pinned by digest", () =>
    expectRefused({ ...minimalValues, frpsImage: "fatedier/frps:v0.71.0", frpcImage: "fatedier/frpc:latest" }, [
      "at '/frpsImage': 'fatedier/frps:v0.71.0' does not match pattern",
      "at '/frpcImage': 'fatedier/frpc:latest' does not match pattern",
    ]),
  )

  it.effect("loadBalancerClass must be a domain-prefixed name", () =>
    expectRefused({ ...minimalValues, loadBalancerClass: "fly" }, ["at '/loadBalancerClass': 'fly' does not match"]),
  )

  it.effect("a misspelt value is refused instead of silently ignored", () =>
    expectRefused({ ...minimalValues, flyRegon: "fra", metrics: { servicemonitor: { enabled: true } } }, [
      "additional properties 'flyRegon' not allowed",
      "additional properties 'servicemonitor' not allowed",
    ]),
  )

  it.effect("ports and the replica count must be numbers in range", () =>
    expectRefused({ ...minimalValues, replicaCount: -1, metrics: { port: 70000 } }, [
      "at '/replicaCount'",
      "at '/metrics/port'",
    ]),
  )
})
