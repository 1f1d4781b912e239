import type { KubeObject } from "../kube/resourceType.ts"
import * as ResourceType from "../kube/resourceType.ts"

/** The parts of the built-in kinds the Tunnel controller reads; the API server's JSON, not client-node's classes. */
export interface DeploymentObject extends KubeObject {
  readonly spec?: { readonly replicas?: number; readonly [field: string]: unknown }
  readonly status?: {
    readonly observedGeneration?: number
    readonly updatedReplicas?: number
    readonly availableReplicas?: number
  }
}

export interface ServiceObject extends KubeObject {
  readonly spec?: { readonly clusterIP?: string; readonly [field: string]: unknown }
}

export const DeploymentType = ResourceType.Deployment as ResourceType.ResourceType<DeploymentObject>
export const ServiceType = ResourceType.Service as ResourceType.ResourceType<ServiceObject>
