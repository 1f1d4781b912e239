import { writeFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { CHART_CRD_PATH, CRD_PATH, flyTunnelCrdYaml } from "./crd.ts"

// Writes crds/ and the chart's copy from the schema: `node packages/api/src/crdWrite.ts` (from any directory).
for (const path of [CRD_PATH, CHART_CRD_PATH]) {
  const target = fileURLToPath(new URL(`../../../${path}`, import.meta.url))
  writeFileSync(target, flyTunnelCrdYaml())
  process.stdout.write(`wrote ${target}\n`)
}
