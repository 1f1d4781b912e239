import type { JsonSchema } from "effect"
import { VALIDATIONS_KEY } from "./celRule.ts"

type Node = JsonSchema.JsonSchema

const INT_OR_STRING = "x-kubernetes-int-or-string"
const PRESERVE_UNKNOWN = "x-kubernetes-preserve-unknown-fields"

const isNode = (value: unknown): value is Node => typeof value === "object" && value !== null && !Array.isArray(value)

/** The schema nodes of a list keyword (`allOf`, `anyOf`); none when it is absent. */
const nodesOf = (value: unknown): Array<Node> => (Array.isArray(value) ? value.filter(isNode) : [])

/** The strings of a list keyword (`required`, `x-kubernetes-list-map-keys`); none when it is absent. */
const stringsOf = (value: unknown): Array<string> =>
  Array.isArray(value) ? value.filter((item): item is string => typeof item === "string") : []

const listOf = (value: unknown): ReadonlyArray<unknown> => (Array.isArray(value) ? value : [])

/** Folds `allOf` members (Effect emits one per check) into their parent, concatenating CEL rules. */
const flattenAllOf = (node: Node): Node => {
  const { allOf, ...rest } = node
  if (!Array.isArray(allOf)) return rest
  const merged: Record<string, unknown> = { ...rest }
  for (const member of nodesOf(allOf)) {
    for (const [key, value] of Object.entries(flattenAllOf(member))) {
      if (key === VALIDATIONS_KEY) {
        merged[key] = [...listOf(merged[key]), ...listOf(value)]
      } else if (key in merged && JSON.stringify(merged[key]) !== JSON.stringify(value)) {
        throw new Error(`cannot merge allOf: conflicting "${key}"`)
      } else {
        merged[key] = value
      }
    }
  }
  return merged
}

const isSafeIntegerBound = (value: unknown) => value === Number.MAX_SAFE_INTEGER || value === Number.MIN_SAFE_INTEGER

/**
 * Turns Effect's draft-2020-12 output into the Kubernetes structural-schema subset: `allOf`
 * folded, open `additionalProperties: true` dropped (the API server prunes unknown fields),
 * int-or-string unions in the form Kubernetes expects, and JavaScript's safe-integer bounds
 * removed (they are noise, not constraints).
 */
export const toStructural = (input: Node): Node => {
  const node = flattenAllOf(input)
  if (node[INT_OR_STRING] === true) {
    const branches = nodesOf(node.anyOf)
    const pattern = branches.find((branch) => branch.type === "string")?.pattern
    const { anyOf: _anyOf, ...rest } = node
    return {
      ...rest,
      anyOf: [{ type: "integer" }, { type: "string" }],
      ...(pattern === undefined ? {} : { pattern }),
    }
  }
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(node)) {
    if (key === "additionalProperties" && value === true) continue
    if ((key === "minimum" || key === "maximum") && isSafeIntegerBound(value)) continue
    if (key === "properties" && isNode(value)) {
      out[key] = Object.fromEntries(
        Object.entries(value).map(([name, child]) => [name, isNode(child) ? toStructural(child) : child]),
      )
    } else if ((key === "items" || key === "additionalProperties") && isNode(value)) {
      out[key] = toStructural(value)
    } else {
      out[key] = value
    }
  }
  return out
}

const FORBIDDEN = ["$ref", "$defs", "definitions", "oneOf", "allOf", "not", "const", "uniqueItems", "examples"]
const FORBIDDEN_BOUNDS = ["exclusiveMinimum", "exclusiveMaximum"]

/**
 * Everything that keeps a schema from being a structural CRD schema that `kubectl explain`
 * documents fully. Empty means fine. `path` is how problems name the node.
 */
export const structuralProblems = (node: Node, path = "openAPIV3Schema", described = true): Array<string> => {
  const problems: Array<string> = []
  const at = (problem: string) => problems.push(`${path}: ${problem}`)
  for (const key of FORBIDDEN) if (key in node) at(`"${key}" is not allowed`)
  for (const key of FORBIDDEN_BOUNDS) if (typeof node[key] === "number") at(`numeric "${key}" is not OpenAPI v3.0`)
  if (described && typeof node.description !== "string") at("has no description")
  if (node[INT_OR_STRING] === true) {
    const anyOf = JSON.stringify(node.anyOf)
    if (anyOf !== JSON.stringify([{ type: "integer" }, { type: "string" }]))
      at("int-or-string needs anyOf [integer, string]")
    if ("type" in node) at("int-or-string must not have a type")
    return problems
  }
  if ("anyOf" in node) at('"anyOf" is only allowed for int-or-string')
  if (typeof node.type !== "string") at("has no type")
  if (node.type === "object") {
    const properties = node.properties
    const additional = node.additionalProperties
    if (isNode(properties) && additional !== undefined) at("has both properties and additionalProperties")
    if (!isNode(properties) && !isNode(additional) && node[PRESERVE_UNKNOWN] !== true) {
      at("object has neither properties, additionalProperties nor x-kubernetes-preserve-unknown-fields")
    }
    if (isNode(properties)) {
      const required = stringsOf(node.required)
      for (const name of required) if (!(name in properties)) at(`requires unknown property "${name}"`)
      for (const [name, child] of Object.entries(properties)) {
        if (isNode(child)) problems.push(...structuralProblems(child, `${path}.${name}`))
        else problems.push(`${path}.${name}: is not a schema object`)
      }
    }
    if (isNode(additional)) problems.push(...structuralProblems(additional, `${path}[*]`, false))
  }
  if (node.type === "array") {
    const items = node.items
    if (!isNode(items)) {
      at("array has no items schema")
    } else {
      problems.push(...structuralProblems(items, `${path}[]`))
      if (node["x-kubernetes-list-type"] === "map") {
        const keys = stringsOf(node["x-kubernetes-list-map-keys"])
        if (keys.length === 0) at("list-type map needs x-kubernetes-list-map-keys")
        const required = stringsOf(items.required)
        const properties = isNode(items.properties) ? items.properties : {}
        for (const key of keys) {
          const property = properties[key]
          if (!required.includes(key) && (!isNode(property) || property.default === undefined))
            at(`map key "${key}" must be required or defaulted`)
        }
      }
    }
  }
  return problems
}
