export {
  acquireControlPlane,
  type ControlPlane,
  type ControlPlaneEndpoint,
  type ControlPlaneOptions,
  DEFAULT_SERVICE_CIDR,
  LocalControlPlane,
  startControlPlane,
} from "./controlPlane.ts"
export { ControlPlaneError } from "./errors.ts"
export { type KubeconfigCredentials, renderKubeconfig } from "./kubeconfig.ts"
export { serviceAccountKubeconfig } from "./serviceAccountKubeconfig.ts"
