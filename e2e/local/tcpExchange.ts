import { connect } from "node:net"

export interface Exchange {
  /** What the server sent back. */
  readonly reply: Buffer
  /** The client's own address and port, what a PROXY header should name as the source. */
  readonly localAddress: string
  readonly localPort: number
}

/**
 * Connects, sends `data` and collects the reply until `complete` accepts it, the server closes, or `timeoutMs`.
 * The client never half-closes: frp ends both directions of a tunnelled connection as soon as one side sends FIN.
 */
export const exchange = (
  host: string,
  port: number,
  data: Buffer | string,
  complete: (reply: Buffer) => boolean,
  timeoutMs = 5_000,
): Promise<Exchange> =>
  new Promise((resolve, reject) => {
    const chunks: Array<Buffer> = []
    const socket = connect({ host, port })
    let local = { localAddress: "", localPort: 0 }
    const finish = () => {
      socket.destroy()
      resolve({ reply: Buffer.concat(chunks), ...local })
    }
    socket.setTimeout(timeoutMs, finish)
    socket.once("connect", () => {
      local = { localAddress: socket.localAddress ?? "", localPort: socket.localPort ?? 0 }
      socket.write(data)
    })
    socket.on("data", (chunk: Buffer) => {
      chunks.push(chunk)
      if (complete(Buffer.concat(chunks))) finish()
    })
    socket.once("error", reject)
    socket.once("close", finish)
  })

/** Retries `exchange` until the reply is complete (a tunnel does not carry bytes the instant it is Ready). */
export const exchangeUntil = async (
  host: string,
  port: number,
  data: Buffer | string,
  complete: (reply: Buffer) => boolean,
  timeoutMs = 60_000,
): Promise<Exchange> => {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  while (Date.now() < deadline) {
    try {
      const result = await exchange(host, port, data, complete)
      if (complete(result.reply)) return result
      last = `reply ${JSON.stringify(result.reply.toString("latin1"))}`
    } catch (error) {
      last = error
    }
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
  throw new Error(`no complete reply from ${host}:${port}: ${String(last)}`)
}
