import type * as dgram from "node:dgram"
import type * as net from "node:net"
import { Context, type Effect } from "effect"
import type { NetworkError } from "./networkError.ts"

export type AddressType = "v4" | "v6" | "shared_v4" | "private_v6"

/** Where one machine lives: its addresses, and the command prefix that runs a program there. */
export interface MachineAddress {
  /** The primary address: TCP from the Fly proxy and health checks arrive here. */
  readonly address: string
  /**
   * A second address of the machine, named `fly-global-services` in its /etc/hosts: the only place
   * the Fly proxy delivers UDP to, and the only source it accepts UDP replies from.
   */
  readonly globalServices: string
  /** e.g. `["ip", "netns", "exec", "fto-emu-…-m2"]`; empty on loopback. */
  readonly run: ReadonlyArray<string>
}

/**
 * Where emulated machines and public IPs live. Two implementations:
 * - namespaces (root + iproute2): one emulator namespace holds the public IPs and a bridge, each
 *   machine gets its own namespace behind that bridge, and the host routes both ranges to it;
 * - loopback: public IPs are 127.x.y.z and machines run on the host's loopback (see README.md).
 * Everything is removed when the layer's scope closes.
 */
export class EmulatorNetwork extends Context.Service<
  EmulatorNetwork,
  {
    readonly mode: "namespace" | "loopback"
    readonly allocatePublicIp: (type: AddressType) => Effect.Effect<string, NetworkError>
    readonly releasePublicIp: (address: string) => Effect.Effect<void>
    readonly allocateMachineAddress: (machineId: string) => Effect.Effect<MachineAddress, NetworkError>
    readonly releaseMachine: (machineId: string) => Effect.Effect<void>
    /** A TCP server listening on a public IP (in the emulator namespace when there is one). */
    readonly listenTcp: (address: string, port: number) => Effect.Effect<net.Server, NetworkError>
    /** A UDP socket bound to a public IP (in the emulator namespace when there is one). */
    readonly bindUdp: (address: string, port: number) => Effect.Effect<dgram.Socket, NetworkError>
  }
>()("@fly-tunnel-operator/fly-emulator/network/EmulatorNetwork") {}
