import * as dgram from "node:dgram"
import { isIPv4 } from "node:net"
import type { ProxyBackend, ProxyRoute } from "./ProxyRoute.ts"

const sessionIdleMs = 60_000

interface Session {
  readonly socket: dgram.Socket
  idle: NodeJS.Timeout
}

/**
 * Serves one public UDP socket: each client (address and port) gets a session bound to one healthy
 * backend; datagrams go to it and its replies return to the client from the public address and
 * port. Sessions end after a minute of silence. Without a healthy backend datagrams are dropped.
 */
export const forwardUdp = (
  publicSocket: dgram.Socket,
  current: () => ProxyRoute,
  healthyBackends: (route: ProxyRoute) => ReadonlyArray<ProxyBackend>,
) => {
  const sessions = new Map<string, Session>()
  let turn = 0
  const end = (key: string) => {
    const session = sessions.get(key)
    if (!session) return
    sessions.delete(key)
    clearTimeout(session.idle)
    session.socket.close()
  }
  const open = (key: string, client: dgram.RemoteInfo, backend: ProxyBackend): Session => {
    const socket = dgram.createSocket(isIPv4(backend.address) ? "udp4" : "udp6")
    socket.on("message", (reply) => {
      publicSocket.send(reply, client.port, client.address)
      refresh(session)
    })
    socket.on("error", () => end(key))
    socket.connect(backend.internalPort, backend.address)
    const session: Session = { socket, idle: setTimeout(() => end(key), sessionIdleMs) }
    sessions.set(key, session)
    return session
  }
  const refresh = (session: Session) => {
    clearTimeout(session.idle)
    session.idle = setTimeout(() => {
      for (const [key, candidate] of sessions) if (candidate === session) end(key)
    }, sessionIdleMs)
  }
  const pending = new Map<string, Array<Buffer>>()
  publicSocket.on("message", (datagram, client) => {
    const key = `${client.address}|${client.port}`
    const existing = sessions.get(key)
    if (existing) {
      refresh(existing)
      // Datagrams that arrive while the session socket connects are queued, in order.
      const queue = pending.get(key)
      if (queue) queue.push(datagram)
      else existing.socket.send(datagram)
      return
    }
    const backends = healthyBackends(current())
    const backend = backends[turn++ % Math.max(backends.length, 1)]
    if (!backend) return
    const session = open(key, client, backend)
    pending.set(key, [datagram])
    session.socket.once("connect", () => {
      for (const queued of pending.get(key) ?? []) session.socket.send(queued)
      pending.delete(key)
    })
  })
  publicSocket.on("error", () => {})
  return {
    close: () => {
      for (const key of [...sessions.keys()]) end(key)
      publicSocket.close()
    },
  }
}
