import { createSocket } from "node:dgram"
import { isIPv6 } from "node:net"

/**
 * Sends `text` as a datagram every half second until one comes back (UDP may drop the first ones while a path is
 * set up), or fails after `timeoutMs`. Resolves with the reply and how many datagrams were sent.
 */
export const datagramUntil = (host: string, port: number, text: string, timeoutMs = 30_000) =>
  new Promise<{ readonly reply: string; readonly sent: number }>((resolve, reject) => {
    const socket = createSocket(isIPv6(host) ? "udp6" : "udp4")
    let sent = 0
    const send = () => {
      sent += 1
      socket.send(text, port, host)
    }
    const timer = setInterval(send, 500)
    const deadline = setTimeout(() => {
      clearInterval(timer)
      socket.close()
      reject(new Error(`no datagram back from ${host}:${port} within ${timeoutMs} ms (${sent} sent)`))
    }, timeoutMs)
    socket.on("message", (message) => {
      clearInterval(timer)
      clearTimeout(deadline)
      socket.close()
      resolve({ reply: message.toString(), sent })
    })
    socket.on("error", () => {})
    send()
  })
