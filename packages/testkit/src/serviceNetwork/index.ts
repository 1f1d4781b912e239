export { type EchoBackend, startEchoBackend } from "./echoBackend.ts"
export { ServiceNetworkError } from "./ServiceNetworkError.ts"
export {
  acquireServiceNetwork,
  type RunningServiceNetwork,
  type ServiceNetwork,
  type ServiceNetworkOptions,
  startServiceNetwork,
} from "./serviceNetwork.ts"
