import * as net from "node:net"
import * as tls from "node:tls"
import { type EdgeCa, makeEdgeCa } from "../edge/edgeCa.ts"
import { makeEdgeHttp } from "./edgeHttp.ts"
import { proxyHeaderV1, proxyHeaderV2 } from "./proxyHeader.ts"
import type { ProxyBackend, ProxyRoute } from "./proxyRoute.ts"
import { type InterceptorCredentials, interceptTls } from "./tlsInterception.ts"

/**
 * Serves one public TCP listener as Fly's edge does, by the port's handlers:
 * - none: raw, to a healthy backend chosen round-robin, with a PROXY header first for `proxy_proto`;
 * - `tls`: TLS ends here with a certificate from the edge CA for the name the client asked for (SNI) — one of the
 *   App's issued hostnames or `<app>.fly.dev` — and the cleartext goes on (raw, or to `http`);
 * - `http`: requests are forwarded with Fly's headers (edgeHttp.ts).
 * On a shared IPv4 the listener has one route per App and nothing but the name picks one: an unknown SNI fails the
 * handshake, an unknown Host gets a 404. Without a healthy backend a connection is closed, as Fly's proxy does once it
 * gives up.
 * Both legs run without Nagle's algorithm, as a relay of byte streams must: with it, a message relayed in two writes
 * waits for the peer's delayed ACK (40 ms) before its second half goes on. A route a test marked `interceptTls` goes
 * through a man in the middle instead (a network fault, see tlsInterception.ts).
 */
export const forwardTcp = (
  server: net.Server,
  current: () => ReadonlyArray<ProxyRoute>,
  healthyBackends: (route: ProxyRoute) => ReadonlyArray<ProxyBackend>,
  ca: EdgeCa,
  /** The man in the middle for routes marked `interceptTls`; none where no route is (the bench's relay). */
  interceptor?: { readonly credentials: InterceptorCredentials; readonly onIntercepted: () => void },
) => {
  const connections = new Set<net.Socket>()
  let turn = 0
  const track = (socket: net.Socket) => {
    connections.add(socket)
    socket.on("close", () => connections.delete(socket))
  }
  const pickBackend = (route: ProxyRoute) => {
    const backends = healthyBackends(route)
    return backends[turn++ % Math.max(backends.length, 1)]
  }
  const edgeHttp = makeEdgeHttp({ routes: current, pickBackend, track })

  /** Raw TCP to a backend: the client's bytes (cleartext after the edge's TLS), a PROXY header first if asked. */
  const pipeToBackend = (
    client: net.Socket,
    route: ProxyRoute,
    source: { readonly address: string; readonly port: number },
  ) => {
    const backend = pickBackend(route)
    if (backend === undefined) {
      client.destroy()
      return
    }
    const upstream = net.connect({ host: backend.address, port: backend.internalPort, noDelay: true })
    track(upstream)
    // Ends travel through the pipes (a backend that answers and closes still delivers its answer);
    // errors and the client going away tear both sides down.
    upstream.on("error", () => client.destroy())
    client.on("close", () => upstream.destroy())
    upstream.once("connect", () => {
      if (route.handlers.includes("proxy_proto")) {
        const destination = { address: route.publicIp, port: route.port }
        upstream.write(
          route.proxyProto === "v2" ? proxyHeaderV2(source, destination) : proxyHeaderV1(source, destination),
        )
      }
      client.pipe(upstream)
      upstream.pipe(client)
    })
  }

  const afterHandlers = (
    socket: net.Socket,
    route: ProxyRoute | undefined,
    https: boolean,
    source: { readonly address: string; readonly port: number },
  ) => {
    const handlers = route?.handlers ?? current()[0]?.handlers ?? []
    if (handlers.includes("http")) {
      edgeHttp.serve(socket, { route, https, clientAddress: source.address, clientPort: source.port })
      return
    }
    if (route === undefined) socket.destroy()
    else pipeToBackend(socket, route, source)
  }

  /** Ends TLS here; the App is the one whose certified names hold the SNI (on a dedicated address, its only one). */
  const terminateTls = async (
    client: net.Socket,
    routes: ReadonlyArray<ProxyRoute>,
    source: { readonly address: string; readonly port: number },
  ) => {
    const sole = routes.length === 1 && routes[0]?.shared !== true ? routes[0] : undefined
    // Without SNI, or with a name it has no certificate for, a dedicated address answers with `<app>.fly.dev`'s.
    const fallback = sole?.app === undefined ? undefined : await ca.issue(`${sole.app}.fly.dev`)
    let chosen = sole
    const secure = new tls.TLSSocket(client, {
      isServer: true,
      ...(fallback === undefined
        ? {}
        : { secureContext: tls.createSecureContext({ cert: fallback.certPem, key: fallback.keyPem }) }),
      SNICallback: (name, answer) => {
        const host = name.toLowerCase()
        const route = routes.find((candidate) => (candidate.certifiedNames ?? []).includes(host))
        if (route === undefined) {
          if (sole !== undefined) answer(null, undefined)
          else answer(new Error(`no certificate for ${host}`), undefined)
          return
        }
        chosen = route
        ca.issue(host).then(
          (issued) => answer(null, tls.createSecureContext({ cert: issued.certPem, key: issued.keyPem })),
          (error: unknown) => answer(error instanceof Error ? error : new Error(String(error)), undefined),
        )
      },
    })
    track(secure)
    secure.on("error", () => client.destroy())
    secure.once("secure", () => afterHandlers(secure, chosen, true, source))
  }

  server.on("connection", (client) => {
    client.setNoDelay(true)
    track(client)
    client.on("error", () => client.destroy())
    const routes = current()
    if (routes.length === 0 || client.remoteAddress === undefined || client.remotePort === undefined) {
      client.destroy()
      return
    }
    const source = { address: client.remoteAddress, port: client.remotePort }
    if (routes.some((route) => route.handlers.includes("tls"))) {
      terminateTls(client, routes, source).catch(() => client.destroy())
      return
    }
    const sole = routes.length === 1 && routes[0]?.shared !== true ? routes[0] : undefined
    if (sole?.interceptTls === true && interceptor !== undefined) {
      const backend = pickBackend(sole)
      if (backend === undefined) {
        client.destroy()
        return
      }
      interceptor.onIntercepted()
      for (const socket of interceptTls(
        client,
        { host: backend.address, port: backend.internalPort },
        interceptor.credentials,
      ))
        track(socket)
      return
    }
    afterHandlers(client, sole, false, source)
  })
  return {
    close: () => {
      server.close()
      edgeHttp.close()
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
  // The route has no `tls` handler, so the CA is never asked for a certificate.
  const forwarding = forwardTcp(
    server,
    () => [route],
    (current) => current.backends,
    await makeEdgeCa(),
  )
  return { host: "127.0.0.1", port, close: forwarding.close }
}
