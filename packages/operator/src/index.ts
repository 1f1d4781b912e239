import { fileURLToPath } from "node:url"

export { SETTINGS, type Setting } from "./config/operatorSettings.ts"

/** The operator's program, for running it as its own process (`node <path>`), as the image does with its bundle. */
export const operatorEntrypoint = fileURLToPath(new URL("./main.ts", import.meta.url))

/** `node <path> <outfile>` bundles the operator into one file, as the image runs it. */
export const operatorBundleScript = fileURLToPath(new URL("./build/bundle.ts", import.meta.url))

export { operatorEnvironment, operatorNodeOptions } from "./build/imageRuntime.ts"
