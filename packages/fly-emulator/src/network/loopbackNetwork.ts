import { randomInt } from "node:crypto"
import * as dgram from "node:dgram"
import * as net from "node:net"
import { Effect } from "effect"
import type { AddressType, EmulatorNetwork, MachineAddress } from "./emulatorNetwork.ts"
import { NetworkError } from "./networkError.ts"

/**
 * The fallback without root or iproute2: public IPs are random 127.x.y.z addresses (IPv6 types
 * too, since ::1 is the only loopback IPv6) and every machine runs on the host's loopback, so two
 * machines cannot bind the same port. Each machine's fly-global-services is a 127.x.y.z address
 * of its own. See README.md.
 */
export const loopbackNetwork: Effect.Effect<typeof EmulatorNetwork.Service> = Effect.sync(() => {
  const taken = new Set<string>()
  const machines = new Map<string, MachineAddress>()

  const freeLoopback = Effect.fnUntraced(function* () {
    for (let attempt = 0; attempt < 1000; attempt++) {
      const address = `127.${randomInt(100, 200)}.${randomInt(256)}.${randomInt(1, 255)}`
      if (!taken.has(address)) {
        taken.add(address)
        return address
      }
    }
    return yield* new NetworkError({ message: "no free loopback address left" })
  })

  const allocatePublicIp = Effect.fn("EmulatorNetwork.allocatePublicIp")(function* (_type: AddressType) {
    return yield* freeLoopback()
  })

  const allocateMachineAddress = Effect.fn("EmulatorNetwork.allocateMachineAddress")(function* (machineId: string) {
    const existing = machines.get(machineId)
    if (existing) return existing
    const machine: MachineAddress = { address: "127.0.0.1", globalServices: yield* freeLoopback(), run: [] }
    machines.set(machineId, machine)
    return machine
  })

  const listenTcp = (address: string, port: number) =>
    Effect.callback<net.Server, NetworkError>((resume) => {
      const server = net.createServer()
      server.once("error", (error) =>
        resume(Effect.fail(new NetworkError({ message: `listen tcp ${address}:${port}: ${error.message}` }))),
      )
      server.listen({ host: address, port }, () => resume(Effect.succeed(server)))
    })

  const bindUdp = (address: string, port: number) =>
    Effect.callback<dgram.Socket, NetworkError>((resume) => {
      const socket = dgram.createSocket("udp4")
      socket.once("error", (error) =>
        resume(Effect.fail(new NetworkError({ message: `listen udp ${address}:${port}: ${error.message}` }))),
      )
      socket.bind(port, address, () => resume(Effect.succeed(socket)))
    })

  return {
    mode: "loopback",
    allocatePublicIp,
    releasePublicIp: (address) => Effect.sync(() => void taken.delete(address)),
    allocateMachineAddress,
    releaseMachine: (machineId) =>
      Effect.sync(() => {
        const machine = machines.get(machineId)
        machines.delete(machineId)
        if (machine) taken.delete(machine.globalServices)
      }),
    listenTcp,
    bindUdp,
  } satisfies typeof EmulatorNetwork.Service
})
