import type { ServiceObject } from "./serviceObjects.ts"

/**
 * MetalLB's class filter: a Service is ours only when it is a LoadBalancer of our class. Unclassed Services and other
 * classes belong to someone else and are never touched. (The API server clears the class when the type changes.)
 */
export const isOurService = (service: ServiceObject, loadBalancerClass: string): boolean =>
  service.spec?.type === "LoadBalancer" && service.spec.loadBalancerClass === loadBalancerClass
