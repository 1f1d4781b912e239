export { ensureTools, toolsCacheDir } from "./ensureTools.ts"
export { TOOL_NAMES, type ToolName, type Tools } from "./toolNames.ts"
export * from "./versions.ts"
