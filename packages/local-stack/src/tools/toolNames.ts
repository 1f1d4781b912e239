import { Schema } from "effect"

export const TOOL_NAMES = [
  "etcd",
  "kube-apiserver",
  "kube-controller-manager",
  "kube-scheduler",
  "kubectl",
  "frps",
  "frpc",
  "helm",
  "actionlint",
  "registry",
] as const

export type ToolName = (typeof TOOL_NAMES)[number]

/** Each tool's binary: every name present, so a tool no recipe builds fails here rather than as a missing path. */
export const ToolPaths = Schema.Record(Schema.Literals(TOOL_NAMES), Schema.String)
export type Tools = typeof ToolPaths.Type

/** `FTO_TOOL_KUBE_APISERVER=/path` points a tool at an existing binary instead of building it. */
export const overrideVariable = (name: ToolName): string => `FTO_TOOL_${name.toUpperCase().replaceAll("-", "_")}`
