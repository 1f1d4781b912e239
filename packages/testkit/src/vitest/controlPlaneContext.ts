import type { ControlPlaneEndpoint } from "../controlPlane/controlPlane.ts"

declare module "vitest" {
  export interface ProvidedContext {
    /** The run's local control plane, started by controlPlaneSetup.ts. */
    controlPlane: ControlPlaneEndpoint
  }
}
