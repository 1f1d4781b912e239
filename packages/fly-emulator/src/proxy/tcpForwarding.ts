import * as net from "node:net"
import { proxyHeaderV1, proxyHeaderV2 } from "./proxyHeader.ts"
import type { ProxyBackend, ProxyRoute } from "./proxyRoute.ts"
import { type InterceptorCredentials, interceptTls } from "./tlsInterception.ts"

/**
 * Serves one public TCP listener: each connection goes to a healthy backend chosen round-robin,
 * raw, with a PROXY header first when the route has the `proxy_proto` handler. Without a healthy
 * backend the connection is closed, as Fly's proxy does once it gives up. Both legs run without
 * Nagle's algorithm, as a relay of byte streams must: with it, a message relayed in two writes
 * waits for the peer's delayed ACK (40 ms) before its second half goes on. A route a test marked
 * `interceptTls` goes through a man in the middle instead (a network fault, see tlsInterception.ts).
 */
export const forwardTcp = (
  server: net.Server,
  current: () => ProxyRoute,
  healthyBackends: (route: ProxyRoute) => ReadonlyArray<ProxyBackend>,
  /** The man in the middle for routes marked `interceptTls`; none where no route is (the bench's relay). */
  interceptor?: { readonly credentials: InterceptorCredentials; readonly onIntercepted: () => void },
) => {
  const connections = new Set<net.Socket>()
  let turn = 0
  server.on("connection", (client) => {
    client.setNoDelay(true)
    connections.add(client)
    client.on("close", () => connections.delete(client))
    client.on("error", () => client.destroy())
    const route = current()
    const backends = healthyBackends(route)
    const backend = backends[turn++ % Math.max(backends.length, 1)]
    if (!backend || client.remoteAddress === undefined || client.remotePort === undefined) {
      client.destroy()
      return
    }
    if (route.interceptTls === true && interceptor !== undefined) {
      interceptor.onIntercepted()
      const upstream = { host: backend.address, port: backend.internalPort }
      for (const socket of interceptTls(client, upstream, interceptor.credentials)) {
        connections.add(socket)
        socket.on("close", () => connections.delete(socket))
      }
      return
    }
    const upstream = net.connect({ host: backend.address, port: backend.internalPort, noDelay: true })
    connections.add(upstream)
    // Ends travel through the pipes (a backend that answers and closes still delivers its answer);
    // errors and the client going away tear both sides down.
    upstream.on("close", () => connections.delete(upstream))
    upstream.on("error", () => client.destroy())
    client.on("close", () => upstream.destroy())
    upstream.once("connect", () => {
      if (route.handlers.includes("proxy_proto")) {
        const source = { address: client.remoteAddress ?? "", port: client.remotePort ?? 0 }
        const destination = { address: route.publicIp, port: route.port }
        upstream.write(
          route.proxyProto === "v2" ? proxyHeaderV2(source, destination) : proxyHeaderV1(source, destination),
        )
      }
      client.pipe(upstream)
      upstream.pipe(client)
    })
  })
  return {
    close: () => {
      server.close()
      for (const socket of connections) socket.destroy()
    },
  }
}

/**
 * The proxy's TCP forwarding on its own, from a loopback port to one backend: for measuring what the relay itself
 * costs, apart from frp. Resolves once it listens.
 */
export const relayTcp = async (backend: { readonly host: string; readonly port: number }) => {
  const server = net.createServer()
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => resolve())
  })
  const { port } = server.address() as net.AddressInfo
  const route: ProxyRoute = {
    publicIp: "127.0.0.1",
    port,
    protocol: "tcp",
    handlers: [],
    backends: [
      {
        machineId: "relay",
        address: backend.host,
        globalServices: backend.host,
        internalPort: backend.port,
        checks: [],
      },
    ],
  }
  const forwarding = forwardTcp(
    server,
    () => route,
    (current) => current.backends,
  )
  return { host: "127.0.0.1", port, close: forwarding.close }
}
