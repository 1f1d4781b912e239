/**
 * A tiny program run inside the emulator namespace (`ip netns exec`). Node cannot enter another
 * network namespace, but it can receive socket handles over its IPC channel: this broker binds
 * listeners where the public IPs live and hands them to the emulator, which then serves them as
 * its own. It exits when the emulator disconnects.
 */
import * as dgram from "node:dgram"
import * as net from "node:net"

export interface BrokerRequest {
  readonly id: number
  readonly protocol: "tcp" | "udp"
  readonly address: string
  readonly port: number
}
export interface BrokerReply {
  readonly id: number
  readonly error?: string
}

const send = (reply: BrokerReply, handle?: net.Server | dgram.Socket) =>
  // The handle is duplicated into the parent; our copy is closed once it has been sent.
  process.send?.(reply, handle, () => handle?.close())

const bind = (request: BrokerRequest) => {
  const fail = (error: Error) => send({ id: request.id, error: error.message })
  if (request.protocol === "tcp") {
    const server = net.createServer()
    server.once("error", fail)
    server.listen({ host: request.address, port: request.port }, () => send({ id: request.id }, server))
  } else {
    const socket = dgram.createSocket(request.address.includes(":") ? "udp6" : "udp4")
    socket.once("error", fail)
    socket.bind(request.port, request.address, () => send({ id: request.id }, socket))
  }
}

if (process.send) {
  process.on("message", (message) => bind(message as BrokerRequest))
  process.on("disconnect", () => process.exit(0))
  process.send({ id: 0 })
}
