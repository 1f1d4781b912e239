import { FINALIZER } from "@fly-tunnel-operator/api"
import type { V1Service } from "@kubernetes/client-node"

/**
 * MetalLB's class filter: a Service is ours only when it is a LoadBalancer of our class. Unclassed Services and other
 * classes belong to someone else and are never touched. (The API server clears the class when the type changes.)
 */
export const isOurService = (service: V1Service, loadBalancerClass: string): boolean =>
  service.spec?.type === "LoadBalancer" && service.spec.loadBalancerClass === loadBalancerClass

/** A Service the Service controller acts on: ours, or no longer ours but still holding our finalizer to release. */
export const isManagedService = (service: V1Service, loadBalancerClass: string): boolean =>
  isOurService(service, loadBalancerClass) || (service.metadata?.finalizers ?? []).includes(FINALIZER)
