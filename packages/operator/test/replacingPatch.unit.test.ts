import { describe, expect, it } from "vitest"
import { replacingPatch } from "../src/kube/kubeClient.ts"

/** RFC 7386 applied to `target`, to check that a patch really produces the wanted object. */
const applyMergePatch = (target: unknown, patch: unknown): unknown => {
  if (patch === null || typeof patch !== "object" || Array.isArray(patch)) return patch
  const result: Record<string, unknown> =
    target !== null && typeof target === "object" && !Array.isArray(target) ? { ...(target as object) } : {}
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key]
    else result[key] = applyMergePatch(result[key], value)
  }
  return result
}

describe("replacingPatch", () => {
  const cases: ReadonlyArray<[string, unknown, unknown]> = [
    [
      "clears a nested field (a Service's ingress)",
      { loadBalancer: { ingress: [{ ip: "1.2.3.4" }] }, conditions: [] },
      { loadBalancer: {}, conditions: [] },
    ],
    ["drops a top-level key", { phase: "Ready", app: { name: "a" } }, { phase: "Ready" }],
    ["replaces arrays whole", { machines: [{ id: "a" }, { id: "b" }] }, { machines: [{ id: "b" }] }],
    ["keeps what stays and changes scalars", { a: { b: 1, c: 2 }, d: "x" }, { a: { b: 3, c: 2 }, d: "x" }],
  ]
  for (const [name, from, to] of cases) {
    it(name, () => {
      expect(applyMergePatch(from, replacingPatch(from, to))).toEqual(to)
    })
  }
})
