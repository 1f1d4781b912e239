import type { FlyTunnelStatus } from "@fly-tunnel-operator/api"
import type { KubeObject } from "../kube/resourceType.ts"
import * as ResourceType from "../kube/resourceType.ts"

export interface ServiceCondition {
  readonly type: string
  readonly status: "True" | "False" | "Unknown"
  readonly observedGeneration?: number
  readonly lastTransitionTime: string
  readonly reason: string
  readonly message: string
}

export interface ServiceObject extends KubeObject {
  readonly spec?: {
    readonly type?: string
    readonly loadBalancerClass?: string
    readonly clusterIP?: string
    readonly ports?: ReadonlyArray<{
      readonly name?: string
      readonly port: number
      readonly protocol?: string
      readonly targetPort?: number | string
    }>
    readonly [field: string]: unknown
  }
  readonly status?: {
    readonly loadBalancer?: { readonly ingress?: ReadonlyArray<{ readonly ip?: string; readonly ipMode?: string }> }
    readonly conditions?: ReadonlyArray<ServiceCondition>
  }
}

export interface TunnelObject extends KubeObject {
  readonly spec?: unknown
  readonly status?: FlyTunnelStatus
}

export const ServiceType = ResourceType.Service as ResourceType.ResourceType<ServiceObject>
export const TunnelType = ResourceType.FlyTunnel as ResourceType.ResourceType<TunnelObject>
