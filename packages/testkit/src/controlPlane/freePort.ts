import { createServer } from "node:net"
import { Effect } from "effect"
import { ControlPlaneError } from "./errors.ts"

/** A TCP port on 127.0.0.1 that was free a moment ago (the kernel picks it). */
export const freeLoopbackPort: Effect.Effect<number, ControlPlaneError> = Effect.callback((resume) => {
  const server = createServer()
  server.once("error", (error) =>
    resume(Effect.fail(new ControlPlaneError({ message: `no free loopback port: ${error.message}` }))),
  )
  server.listen(0, "127.0.0.1", () => {
    const address = server.address()
    const port = typeof address === "object" && address !== null ? address.port : 0
    server.close(() => resume(Effect.succeed(port)))
  })
})
