import { writeFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { CRD_PATH, flyTunnelCrdYaml } from "./crd.ts"

// Writes crds/ from the schema: `node packages/api/src/crdWrite.ts` (from any directory).
const target = fileURLToPath(new URL(`../../../${CRD_PATH}`, import.meta.url))
writeFileSync(target, flyTunnelCrdYaml())
process.stdout.write(`wrote ${target}\n`)
