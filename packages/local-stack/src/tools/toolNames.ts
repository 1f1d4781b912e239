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

export type Tools = Readonly<Record<ToolName, string>>

/** `FTO_TOOL_KUBE_APISERVER=/path` points a tool at an existing binary instead of building it. */
export const overrideVariable = (name: ToolName): string => `FTO_TOOL_${name.toUpperCase().replaceAll("-", "_")}`
