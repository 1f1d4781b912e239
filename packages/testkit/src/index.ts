export * from "./controlPlane/index.ts"
export { type NodeAgent, type NodeAgentOptions, startNodeAgent } from "./nodeAgent/nodeAgent.ts"
export * from "./tools/index.ts"
