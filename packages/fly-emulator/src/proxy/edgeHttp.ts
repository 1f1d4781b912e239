import * as http from "node:http"
import type * as net from "node:net"
import type { ProxyBackend, ProxyRoute } from "./proxyRoute.ts"

/** What the edge knows of a connection it hands to HTTP: who the client is, and whether TLS was ended here. */
export interface EdgeConnection {
  /** The App's route when TLS (SNI) or the listener already chose it; else each request is routed by Host. */
  readonly route: ProxyRoute | undefined
  readonly https: boolean
  readonly clientAddress: string
  readonly clientPort: number
}

const hostOf = (header: string | undefined): string =>
  (header ?? "")
    .replace(/:\d+$/, "")
    .replace(/^\[|\]$/g, "")
    .toLowerCase()

/**
 * The `http` handler of Fly's edge: it reads each HTTP/1.1 request, routes it (by Host on a shared IPv4), redirects
 * plain HTTP to HTTPS with `force_https`, and sends it on to a Machine with the headers Fly documents for it
 * (Fly-Client-IP, X-Forwarded-For, X-Forwarded-Proto, X-Forwarded-Port, X-Forwarded-SSL, Fly-Forwarded-Port).
 * Not emulated: HTTP/2 towards the client (no ALPN is offered), `h2_backend`, compression and Fly-Region.
 */
export const makeEdgeHttp = (options: {
  readonly routes: () => ReadonlyArray<ProxyRoute>
  readonly pickBackend: (route: ProxyRoute) => ProxyBackend | undefined
  readonly track: (socket: net.Socket) => void
}) => {
  const connections = new WeakMap<net.Socket, EdgeConnection>()
  const server = http.createServer((request, response) => {
    const connection = connections.get(request.socket)
    if (connection === undefined) {
      response.destroy()
      return
    }
    const host = hostOf(request.headers.host)
    const candidates = options.routes()
    const route =
      connection.route ??
      candidates.find((candidate) => (candidate.hostnames ?? []).includes(host)) ??
      (candidates.length === 1 && candidates[0]?.shared !== true ? candidates[0] : undefined)
    if (route === undefined) {
      response.writeHead(404, { "content-type": "text/plain" }).end(`no app serves ${host}\n`)
      return
    }
    if (route.forceHttps === true && !connection.https) {
      response.writeHead(301, { location: `https://${host}${request.url ?? "/"}` }).end()
      return
    }
    const backend = options.pickBackend(route)
    if (backend === undefined) {
      response.writeHead(503, { "content-type": "text/plain" }).end("no healthy machine\n")
      return
    }
    const forwardedFor = request.headers["x-forwarded-for"]
    const headers = {
      ...request.headers,
      "fly-client-ip": connection.clientAddress,
      "x-forwarded-for":
        forwardedFor === undefined ? connection.clientAddress : `${String(forwardedFor)}, ${connection.clientAddress}`,
      "x-forwarded-proto": connection.https ? "https" : "http",
      "x-forwarded-port": String(route.port),
      "x-forwarded-ssl": connection.https ? "on" : "off",
      "fly-forwarded-port": String(route.port),
    }
    const upstream = http.request({
      host: backend.address,
      port: backend.internalPort,
      method: request.method,
      path: request.url,
      headers,
      agent: false,
    })
    upstream.on("socket", options.track)
    upstream.on("response", (answer) => {
      response.writeHead(answer.statusCode ?? 502, answer.statusMessage, answer.headers)
      answer.pipe(response)
    })
    upstream.on("error", () => {
      if (response.headersSent) response.destroy()
      else response.writeHead(502, { "content-type": "text/plain" }).end("the machine did not answer\n")
    })
    request.pipe(upstream)
  })
  return {
    /** Serves HTTP on a connection (plain, or the cleartext side of TLS the edge ended). */
    serve: (socket: net.Socket, connection: EdgeConnection) => {
      connections.set(socket, connection)
      server.emit("connection", socket)
    },
    close: () => server.close(),
  }
}
