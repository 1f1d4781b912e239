export { eventually } from "./eventually.ts"
export { annotationsCase, type GeneratedCase, specCase } from "./flyTunnelArbitraries.ts"
