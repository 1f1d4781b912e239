import type { MachineSize } from "@fly-tunnel-operator/api"
import { Context } from "effect"

/** What the Service controller needs from the install: its class and the defaults annotations fall back to. */
export class ServiceSettings extends Context.Service<
  ServiceSettings,
  {
    readonly loadBalancerClass: string
    readonly defaultRegion: string
    readonly defaultMachineSize: MachineSize
    /** The chart's `adoption.enabled`: a Service without the adopt annotation adopts the Go operator's App. */
    readonly adoptionEnabled: boolean
  }
>()("@fly-tunnel-operator/operator/service/ServiceSettings") {}
