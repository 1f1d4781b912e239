import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "@effect/vitest"
import { CRD_PATH, flyTunnelCrd, flyTunnelCrdYaml, flyTunnelOpenApiSchema, structuralProblems } from "../src/index.ts"

const crdFile = fileURLToPath(new URL(`../../../${CRD_PATH}`, import.meta.url))

describe("FlyTunnel CRD", () => {
  it("crds/ matches the schema", () => {
    const committed = readFileSync(crdFile, "utf8")
    expect(
      committed === flyTunnelCrdYaml(),
      `${CRD_PATH} is stale: regenerate it with \`node packages/api/src/crdWrite.ts\` and commit it`,
    ).toBe(true)
  })

  it("is structural and describes every field", () => {
    const schema = flyTunnelOpenApiSchema()
    expect(structuralProblems(schema.properties.spec, "spec")).toEqual([])
    expect(structuralProblems(schema.properties.status, "status")).toEqual([])
  })

  it("finds the problems it is meant to find", () => {
    expect(
      structuralProblems({
        type: "object",
        description: "x",
        properties: {
          a: { type: "object", description: "no fields" },
          b: { type: "string" },
          c: { anyOf: [{ type: "string" }, { type: "null" }], description: "nullable" },
          d: { type: "array", description: "dup", items: { type: "string", description: "i" }, uniqueItems: true },
        },
      }),
    ).toEqual([
      "openAPIV3Schema.a: object has neither properties, additionalProperties nor x-kubernetes-preserve-unknown-fields",
      "openAPIV3Schema.b: has no description",
      'openAPIV3Schema.c: "anyOf" is only allowed for int-or-string',
      "openAPIV3Schema.c: has no type",
      'openAPIV3Schema.d: "uniqueItems" is not allowed',
    ])
  })

  it("carries each admission rule, the status subresource, short name and printer columns", () => {
    const crd = flyTunnelCrd()
    const [version] = crd.spec.versions
    if (version === undefined) throw new Error("the CRD has no version")
    expect(crd.spec.names.shortNames).toEqual(["ft"])
    expect(version.subresources).toEqual({ status: {} })
    expect(version.additionalPrinterColumns.map((column) => column.name)).toEqual([
      "Target",
      "Address",
      "IPv6",
      "Regions",
      "Ready",
      "Phase",
      "Age",
    ])
    const rules = JSON.stringify(version.schema.openAPIV3Schema).match(/"rule":"[^"]*"/g) ?? []
    // target (2), port (4), ports (2), hostname (1), spec (4: the shared IPv4's ports and IPv6, hostnames need an edge
    // port, adopt keeps a dedicated IPv4), address host (1), adopt.ipv4 (1), plus the transition rules (target, adopt).
    expect(rules.length).toBe(17)
  })
})
