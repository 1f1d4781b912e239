import * as dgram from "node:dgram"
import { isIPv4 } from "node:net"
import type { ProxyBackend, ProxyRoute } from "./proxyRoute.ts"

const sessionIdleMs = 60_000

/** The UDP counters of the whole proxy (see ProxyStats in machineHost.ts). */
export interface UdpCounters {
  udpDatagramsForwarded: number
  udpRepliesForwarded: number
  udpRepliesDropped: number
}

interface Session {
  readonly socket: dgram.Socket
  readonly backend: ProxyBackend
  idle: NodeJS.Timeout
}

/**
 * Serves one public UDP socket the way Fly delivers UDP (Fly's UDP and TCP docs): each client
 * (address and port) gets a session bound to one healthy backend, and its datagrams go to that
 * Machine's `fly-global-services` address and the same port — nowhere else. Only replies that come
 * back from exactly that address and port return to the client, from the public address and port;
 * anything else (e.g. a reply a process bound to 0.0.0.0 sends from the Machine's primary address)
 * is dropped and counted. Sessions end after a minute of silence. Without a healthy backend
 * datagrams are dropped.
 */
export const forwardUdp = (
  publicSocket: dgram.Socket,
  current: () => ProxyRoute,
  healthyBackends: (route: ProxyRoute) => ReadonlyArray<ProxyBackend>,
  counters: UdpCounters,
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
  const refresh = (key: string, session: Session) => {
    clearTimeout(session.idle)
    session.idle = setTimeout(() => end(key), sessionIdleMs)
  }
  const open = (key: string, client: dgram.RemoteInfo, backend: ProxyBackend): Session => {
    // Unconnected on purpose: a reply from the wrong source must reach us to be counted as dropped.
    const socket = dgram.createSocket(isIPv4(backend.globalServices) ? "udp4" : "udp6")
    const session: Session = { socket, backend, idle: setTimeout(() => end(key), sessionIdleMs) }
    socket.on("message", (reply, from) => {
      if (from.address !== backend.globalServices || from.port !== backend.internalPort) {
        counters.udpRepliesDropped += 1
        return
      }
      counters.udpRepliesForwarded += 1
      publicSocket.send(reply, client.port, client.address)
      refresh(key, session)
    })
    socket.on("error", () => end(key))
    sessions.set(key, session)
    return session
  }
  const sessionFor = (key: string, client: dgram.RemoteInfo): Session | undefined => {
    const existing = sessions.get(key)
    if (existing) {
      refresh(key, existing)
      return existing
    }
    const backends = healthyBackends(current())
    const backend = backends[turn++ % Math.max(backends.length, 1)]
    return backend ? open(key, client, backend) : undefined
  }
  publicSocket.on("message", (datagram, client) => {
    const session = sessionFor(`${client.address}|${client.port}`, client)
    if (!session) return
    counters.udpDatagramsForwarded += 1
    session.socket.send(datagram, session.backend.internalPort, session.backend.globalServices)
  })
  publicSocket.on("error", () => {})
  return {
    close: () => {
      for (const key of [...sessions.keys()]) end(key)
      publicSocket.close()
    },
  }
}
