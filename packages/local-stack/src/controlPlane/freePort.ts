import { createServer, type Server } from "node:net"
import { Effect } from "effect"
import { ControlPlaneError } from "./errors.ts"

const listen = (server: Server) =>
  new Promise<number>((resolve, reject) => {
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      resolve(typeof address === "object" && address !== null ? address.port : 0)
    })
  })

/**
 * `count` distinct TCP ports on 127.0.0.1 that were free a moment ago (the kernel picks them; all
 * are held until every one is chosen, so they differ). Another process may still take one before
 * it is used: callers retry on "address already in use".
 */
export const freeLoopbackPorts = (count: number): Effect.Effect<Array<number>, ControlPlaneError> =>
  Effect.tryPromise({
    try: async () => {
      const servers = Array.from({ length: count }, () => createServer())
      try {
        return await Promise.all(servers.map(listen))
      } finally {
        await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))))
      }
    },
    catch: (cause) => new ControlPlaneError({ message: `no free loopback port: ${String(cause)}` }),
  })
