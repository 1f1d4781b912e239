// Which frps Machines a tunnel has. Fly delivers UDP only to a process bound to the Machine's `fly-global-services`
// address (and takes replies only from it), while TCP arrives on the Machine's primary address; frps binds every
// public port on its one `proxyBindAddr`. So one frps cannot serve both: a tunnel gets, in each region, a Machine for
// its TCP ports (frps binding all addresses, as before UDP had its own) and one for its UDP ports (frps binding
// `fly-global-services`), each with its own control port and its own frpc. A tunnel with only TCP ports has only the
// first — exactly what it had before.
import type { FlyTunnelSpec, Port } from "@fly-tunnel-operator/api"

export type FrpsRole = "tcp" | "udp"

/** One frps Machine of a tunnel: its region and which of the tunnel's ports it serves. */
export interface FrpsSlot {
  readonly region: string
  readonly role: FrpsRole
}

/** What a slot's Machine, frpc config and frpc Deployment are named by: the region, and `-udp` for UDP. */
export const slotKey = (slot: FrpsSlot): string => (slot.role === "tcp" ? slot.region : `${slot.region}-udp`)

/** The tunnel's ports a slot of this role serves. */
export const portsOfRole = (spec: Pick<FlyTunnelSpec, "ports">, role: FrpsRole): ReadonlyArray<Port> =>
  spec.ports.filter((port) => (port.protocol === "UDP") === (role === "udp"))

/** Every slot of the tunnel: the TCP ones, region by region in spec order, then the UDP ones. */
export const slotsOf = (spec: Pick<FlyTunnelSpec, "ports" | "regions">): ReadonlyArray<FrpsSlot> =>
  (["tcp", "udp"] as const)
    .filter((role) => portsOfRole(spec, role).length > 0)
    .flatMap((role) => spec.regions.map((region) => ({ region, role })))
