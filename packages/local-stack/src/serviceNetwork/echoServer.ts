import { createSocket } from "node:dgram"
import { createServer, isIPv6 } from "node:net"

/**
 * An echo server, the sample backend of the local stack, on TCP and UDP at once: every byte it receives on a TCP
 * connection goes back unchanged (so a client behind a PROXY-protocol tunnel gets the header back too and can read
 * what the backend saw), and every datagram goes back to its sender.
 * Usage: node echoServer.ts <host> <port>; prints "listening <host>:<port>" once both are bound, then "accepted" for
 * each TCP connection (tests count them to prove that nothing reached the backend).
 */
const [host = "127.0.0.1", port = "0"] = process.argv.slice(2)

// No Nagle: an echo that arrives in two pieces goes back at once, not after the client's delayed ACK.
const server = createServer({ noDelay: true }, (socket) => {
  process.stdout.write("accepted\n")
  socket.on("error", () => socket.destroy())
  socket.pipe(socket)
})
server.listen(Number(port), host, () => {
  const address = server.address()
  const bound = typeof address === "object" && address !== null ? address.port : Number(port)
  const datagrams = createSocket(isIPv6(host) ? "udp6" : "udp4")
  datagrams.on("message", (message, from) => datagrams.send(message, from.port, from.address))
  datagrams.bind(bound, host, () => process.stdout.write(`listening ${host}:${bound}\n`))
  process.on("SIGTERM", () => {
    datagrams.close()
    server.close(() => process.exit(0))
  })
})
