import { createServer } from "node:net"

/**
 * A TCP echo server, the sample backend of the local stack: every byte it receives goes back unchanged, so a client
 * behind a PROXY-protocol tunnel gets the header back too and can read what the backend saw.
 * Usage: node echoServer.ts <host> <port>; prints "listening <host>:<port>" once bound, then "accepted" for each
 * connection (tests count them to prove that nothing reached the backend).
 */
const [host = "127.0.0.1", port = "0"] = process.argv.slice(2)

const server = createServer((socket) => {
  process.stdout.write("accepted\n")
  socket.on("error", () => socket.destroy())
  socket.pipe(socket)
})
server.listen(Number(port), host, () => {
  const address = server.address()
  const bound = typeof address === "object" && address !== null ? address.port : port
  process.stdout.write(`listening ${host}:${bound}\n`)
})
process.on("SIGTERM", () => server.close(() => process.exit(0)))
