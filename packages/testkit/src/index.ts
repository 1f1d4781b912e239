export { eventually } from "./eventually.ts"
export { annotationsCase, type GeneratedCase, specCase, validSpec } from "./flyTunnelArbitraries.ts"
