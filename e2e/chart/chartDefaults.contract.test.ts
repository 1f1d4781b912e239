import { readFile } from "node:fs/promises"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { DEFAULT_LOAD_BALANCER_CLASS, DEFAULT_MACHINE_SIZE, MACHINE_SIZES } from "@fly-tunnel-operator/api"
// e2e does not depend on @fly-tunnel-operator/frp; the pinned images are plain constants.
import { FRPC_IMAGE, FRPS_IMAGE } from "@fly-tunnel-operator/frp"
import { SETTINGS } from "@fly-tunnel-operator/operator"
import type { V1Deployment } from "@kubernetes/client-node"
import { loadYaml } from "@kubernetes/client-node"
import { Effect, Schema } from "effect"
import { chartDir, helmBinary, minimalValues, only, renderChart } from "./chart.ts"

interface ChartSchema {
  readonly properties: {
    readonly flyMachineSize: { readonly enum: ReadonlyArray<string> }
    readonly logLevel: { readonly enum: ReadonlyArray<string> }
  }
}

const readChartFile = (name: string) => Effect.promise(() => readFile(join(chartDir, name), "utf8"))

describe("chart defaults agree with the operator", () => {
  it.effect("every environment variable the chart sets is an operator setting", () =>
    Effect.gen(function* () {
      const manifests = yield* renderChart(helmBinary(), { ...minimalValues, frpsImage: "", frpcImage: "" })
      const env = only<V1Deployment>(manifests, "Deployment").spec?.template.spec?.containers[0]?.env ?? []
      const known = new Set(Object.values(SETTINGS).map((setting) => setting.env))
      expect(env.map((variable) => variable.name).filter((name) => !known.has(name))).toEqual([])
    }),
  )

  it.effect("defaults in values.yaml are the operator's and the API's", () =>
    Effect.gen(function* () {
      const values = loadYaml(yield* readChartFile("values.yaml")) as Record<string, unknown>
      expect(values.loadBalancerClass).toBe(DEFAULT_LOAD_BALANCER_CLASS)
      expect(values.loadBalancerClass).toBe(SETTINGS.loadBalancerClass.default)
      expect(values.flyRegion).toBe(SETTINGS.flyRegion.default)
      expect(values.flyMachineSize).toBe(DEFAULT_MACHINE_SIZE)
      expect(values.flyApiBaseUrl).toBe(SETTINGS.flyApiBaseUrl.default)
      expect(values.logLevel).toBe(SETTINGS.logLevel.default)
      expect(values.frpsImage).toBe(FRPS_IMAGE)
      expect(values.frpcImage).toBe(FRPC_IMAGE)
    }),
  )

  it.effect("the schema allows exactly the machine sizes and log levels the operator accepts", () =>
    Effect.gen(function* () {
      const schema = JSON.parse(yield* readChartFile("values.schema.json")) as ChartSchema
      expect(schema.properties.flyMachineSize.enum).toEqual(MACHINE_SIZES)
      const decodeLevel = Schema.decodeUnknownResult(SETTINGS.logLevel.schema)
      for (const level of schema.properties.logLevel.enum) expect(decodeLevel(level)._tag, level).toBe("Success")
      expect(decodeLevel("loud")._tag).toBe("Failure")
    }),
  )
})
