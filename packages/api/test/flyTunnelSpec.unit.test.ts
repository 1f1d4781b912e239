import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import { decodeFlyTunnel, decodeFlyTunnelSpec, targetPortOf } from "../src/index.ts"
import { invalidSpecs, validSpecs } from "./examples.ts"

describe("FlyTunnel spec schema", () => {
  for (const [name, spec] of Object.entries(validSpecs)) {
    it.effect(`accepts ${name}`, () =>
      Effect.gen(function* () {
        const decoded = yield* decodeFlyTunnelSpec(spec)
        expect(decoded.ports.length).toBe(spec.ports.length)
      }),
    )
  }

  it.effect("fills the documented defaults", () =>
    Effect.gen(function* () {
      const decoded = yield* decodeFlyTunnelSpec({
        target: { service: { name: "web" } },
        ports: [{ name: "http", port: 80 }],
        regions: ["ord"],
      })
      expect(decoded.machineSize).toBe("shared-cpu-1x")
      expect(decoded.frpc.replicas).toBe(1)
      const [port] = decoded.ports
      expect(port).toEqual({ name: "http", port: 80, protocol: "TCP", proxyProtocol: "none", edge: "none" })
      expect(decoded.ipv4).toBe("dedicated")
      expect(decoded.hostnames).toEqual([])
      if (port === undefined) return
      expect(targetPortOf(port)).toBe(80)
      expect(targetPortOf({ ...port, targetPort: 8080 })).toBe(8080)
    }),
  )

  for (const [name, spec, field] of invalidSpecs) {
    it.effect(`rejects ${name}, naming ${field}`, () =>
      Effect.gen(function* () {
        const exit = yield* Effect.exit(decodeFlyTunnelSpec(spec))
        expect(Exit.isFailure(exit)).toBe(true)
        const error = yield* Effect.flip(decodeFlyTunnelSpec(spec))
        expect(error._tag).toBe("InvalidFlyTunnel")
        expect(error.issues.map((issue) => issue.path)).toContain(field)
        expect(error.message).toContain(`${field}:`)
      }),
    )
  }

  it.effect("decodes a whole object from the API server and names bad fields from the root", () =>
    Effect.gen(function* () {
      const object = {
        apiVersion: "fly-tunnel-operator.dev/v1alpha1",
        kind: "FlyTunnel",
        metadata: { name: "web", namespace: "default", uid: "u-1", generation: 2, resourceVersion: "7" },
        spec: validSpecs.serviceTarget,
        status: {
          observedGeneration: 1,
          phase: "Ready",
          conditions: [
            { type: "Ready", status: "True", lastTransitionTime: "2026-01-01T00:00:00Z", reason: "Ready", message: "" },
          ],
          addresses: [{ ip: "203.0.113.7", type: "v4" }],
          machines: [{ id: "m1", region: "ord", state: "started" }],
        },
      }
      const tunnel = yield* decodeFlyTunnel(object)
      expect(tunnel.status?.addresses?.[0]?.ip).toBe("203.0.113.7")
      const error = yield* Effect.flip(
        decodeFlyTunnel({ ...object, status: { ...object.status, addresses: [{ ip: "x", type: "v5" }] } }),
      )
      expect(error.issues.map((issue) => issue.path)).toEqual(["status.addresses[0].type"])
    }),
  )
})
