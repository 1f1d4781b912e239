import type { ControlPlaneEndpoint } from "@fly-tunnel-operator/local-stack"

declare module "vitest" {
  export interface ProvidedContext {
    /** The run's local control plane, started by controlPlaneSetup.ts. */
    controlPlane: ControlPlaneEndpoint
  }
}
