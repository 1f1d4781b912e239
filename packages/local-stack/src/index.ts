export {
  type ControlPlane,
  type ControlPlaneEndpoint,
  type ControlPlaneOptions,
  LocalControlPlane,
  startControlPlane,
} from "./controlPlane/controlPlane.ts"
export { ControlPlaneError } from "./controlPlane/errors.ts"
export { renderKubeconfig } from "./controlPlane/kubeconfig.ts"
export { serviceAccountKubeconfig } from "./controlPlane/serviceAccountKubeconfig.ts"
export { type LanHost, type RunningLanHost, startLanHost } from "./lanHost/lanHost.ts"
export { installCrds } from "./localStack/crdInstall.ts"
export { type LocalStack, type LocalStackOptions, startLocalStack } from "./localStack/localStack.ts"
export { deployOperator, type OperatorDeployment } from "./localStack/operatorDeployment.ts"
export {
  type OperatorProcess,
  type OperatorProcessOptions,
  startOperatorProcess,
} from "./localStack/operatorProcess.ts"
export { installOperatorRbac, type OperatorIdentity } from "./localStack/operatorRbac.ts"
export { type NodeAgent, type NodeAgentOptions, startNodeAgent } from "./nodeAgent/nodeAgent.ts"
export { type EchoBackend, startEchoBackend } from "./serviceNetwork/echoBackend.ts"
export {
  type RunningServiceNetwork,
  type ServiceNetwork,
  type ServiceNetworkOptions,
  startServiceNetwork,
} from "./serviceNetwork/serviceNetwork.ts"
export { ServiceNetworkError } from "./serviceNetwork/serviceNetworkError.ts"
export { startScoped } from "./startScoped.ts"
export { ensureTools } from "./tools/ensureTools.ts"
export { TOOL_NAMES, type ToolName, type Tools } from "./tools/toolNames.ts"
export * from "./tools/versions.ts"
