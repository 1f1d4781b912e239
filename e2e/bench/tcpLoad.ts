import { connect, type Socket } from "node:net"
import { createInterface } from "node:readline"

/**
 * Load against an echo server, run as its own process so the measuring client shares no event loop with the stack:
 *   node tcpLoad.ts <host> <port> <round trips> <message bytes> <throughput bytes> <new connections>
 * Prints one JSON line: request/response round trips (p50, p99 in ms) on one connection, bulk throughput (bytes
 * echoed back per second) on another, then new connections one after the other (connect and one round trip, p50 and
 * p99). Never half-closes (frp drops both directions on FIN).
 * Around the bulk transfer it prints "bulk" and then "bulk done", each time waiting for a line on stdin before it goes
 * on, so the parent can read every process's CPU time at exactly the transfer's start and end.
 */
const [
  host = "127.0.0.1",
  port = "0",
  rounds = "2000",
  messageBytes = "64",
  // Long enough (a second or more through frp) for CPU times counted in 10 ms ticks to be within a few per cent.
  bulkBytes = String(256 * 1024 * 1024),
  connections = "200",
] = process.argv.slice(2)

const open = () =>
  new Promise<Socket>((resolve, reject) => {
    const socket = connect({ host, port: Number(port), noDelay: true }, () => resolve(socket))
    socket.once("error", reject)
  })

/** Resolves once `bytes` more bytes have arrived on `socket`. */
const received = (socket: Socket, bytes: number) =>
  new Promise<void>((resolve, reject) => {
    let got = 0
    const onData = (chunk: Buffer) => {
      got += chunk.length
      if (got >= bytes) {
        socket.off("data", onData)
        resolve()
      }
    }
    socket.on("data", onData)
    socket.once("close", () => reject(new Error(`connection closed after ${got} of ${bytes} bytes`)))
  })

const parent = createInterface({ input: process.stdin })[Symbol.asyncIterator]()
/** Tells the parent where the load is, and waits until it says go on. */
const mark = async (line: string) => {
  process.stdout.write(`${line}\n`)
  if ((await parent.next()).done === true) throw new Error(`stdin closed after "${line}"`)
}

const percentile = (sorted: ReadonlyArray<number>, p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN

const summary = (times: Array<number>) => {
  times.sort((a, b) => a - b)
  return { count: times.length, p50Ms: percentile(times, 50), p99Ms: percentile(times, 99) }
}

const message = Buffer.alloc(Number(messageBytes), 0x61)

const roundTrips = async () => {
  const socket = await open()
  const times: Array<number> = []
  for (let i = 0; i < Number(rounds); i++) {
    const started = performance.now()
    const back = received(socket, message.length)
    socket.write(message)
    await back
    times.push(performance.now() - started)
  }
  socket.destroy()
  return summary(times)
}

const throughput = async () => {
  const socket = await open()
  const total = Number(bulkBytes)
  const chunk = Buffer.alloc(64 * 1024, 0x62)
  await mark("bulk")
  const started = performance.now()
  const back = received(socket, total)
  for (let sent = 0; sent < total; sent += chunk.length) {
    if (!socket.write(chunk.subarray(0, Math.min(chunk.length, total - sent)))) {
      await new Promise((resolve) => socket.once("drain", resolve))
    }
  }
  await back
  const seconds = (performance.now() - started) / 1000
  await mark("bulk done")
  socket.destroy()
  return { bytes: total, seconds, mbPerSecond: total / 1024 / 1024 / seconds }
}

const newConnections = async () => {
  const times: Array<number> = []
  for (let i = 0; i < Number(connections); i++) {
    const started = performance.now()
    const socket = await open()
    const back = received(socket, message.length)
    socket.write(message)
    await back
    times.push(performance.now() - started)
    socket.destroy()
  }
  return summary(times)
}

const result = { roundTrip: await roundTrips(), throughput: await throughput(), connect: await newConnections() }
process.stdout.write(`${JSON.stringify(result)}\n`)
process.exit(0)
