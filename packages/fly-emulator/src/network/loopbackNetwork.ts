import { randomInt } from "node:crypto"
import * as dgram from "node:dgram"
import * as net from "node:net"
import { Effect } from "effect"
import type { AddressType, EmulatorNetwork } from "./EmulatorNetwork.ts"
import { NetworkError } from "./NetworkError.ts"

/**
 * The fallback without root or iproute2: public IPs are random 127.x.y.z addresses (IPv6 types
 * too, since ::1 is the only loopback IPv6) and every machine runs on the host's loopback, so two
 * machines cannot bind the same port. See README.md.
 */
export const loopbackNetwork: Effect.Effect<typeof EmulatorNetwork.Service> = Effect.sync(() => {
  const publicIps = new Set<string>()

  const allocatePublicIp = Effect.fn("EmulatorNetwork.allocatePublicIp")(function* (_type: AddressType) {
    for (let attempt = 0; attempt < 1000; attempt++) {
      const address = `127.${randomInt(100, 200)}.${randomInt(256)}.${randomInt(1, 255)}`
      if (!publicIps.has(address)) {
        publicIps.add(address)
        return address
      }
    }
    return yield* new NetworkError({ message: "no free loopback address left" })
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
    releasePublicIp: (address) => Effect.sync(() => void publicIps.delete(address)),
    allocateMachineAddress: () => Effect.succeed({ address: "127.0.0.1", run: [] }),
    releaseMachine: () => Effect.void,
    listenTcp,
    bindUdp,
  } satisfies typeof EmulatorNetwork.Service
})
