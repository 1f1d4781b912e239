import { createServer } from "node:http"

/**
 * An HTTP echo server, the backend behind a port at Fly's `http` or `tls` edge: every request is answered 200 with
 * JSON naming the server (its label) and what it received — method, path and headers (so a client reads the
 * X-Forwarded-For the edge added). Plain HTTP only: TLS, if any, ended at Fly's edge.
 * Usage: node httpEchoServer.ts <host> <port> <label>; prints "listening <host>:<port>" once bound.
 */
const [host = "127.0.0.1", port = "0", label = "backend"] = process.argv.slice(2)

const server = createServer((request, response) => {
  response.writeHead(200, { "content-type": "application/json" })
  response.end(JSON.stringify({ label, method: request.method, url: request.url, headers: request.headers }))
})
server.listen(Number(port), host, () => {
  const address = server.address()
  const bound = typeof address === "object" && address !== null ? address.port : Number(port)
  process.stdout.write(`listening ${host}:${bound}\n`)
  process.on("SIGTERM", () => server.close(() => process.exit(0)))
})
