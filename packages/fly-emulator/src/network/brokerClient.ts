import { type ChildProcess, spawn } from "node:child_process"
import type * as dgram from "node:dgram"
import type * as net from "node:net"
import { fileURLToPath } from "node:url"
import { Effect } from "effect"
import { NetworkError } from "./networkError.ts"
import type { BrokerReply, BrokerRequest } from "./socketBroker.ts"

export interface BrokerClient {
  readonly bind: {
    (protocol: "tcp", address: string, port: number): Effect.Effect<net.Server, NetworkError>
    (protocol: "udp", address: string, port: number): Effect.Effect<dgram.Socket, NetworkError>
  }
}

const brokerPath = fileURLToPath(new URL("./socketBroker.ts", import.meta.url))

/** Starts the socket broker inside `namespace` for the lifetime of the scope. */
export const startBroker = Effect.fnUntraced(function* (namespace: string) {
  const pending = new Map<number, (reply: BrokerReply, handle: unknown) => void>()
  let nextId = 1
  const child = yield* Effect.acquireRelease(
    Effect.callback<ChildProcess, NetworkError>((resume) => {
      const child = spawn("ip", ["netns", "exec", namespace, process.execPath, brokerPath], {
        stdio: ["ignore", "inherit", "inherit", "ipc"],
      })
      child.on("message", (message, handle) => {
        const reply = message as BrokerReply
        if (reply.id === 0) resume(Effect.succeed(child))
        pending.get(reply.id)?.(reply, handle)
        pending.delete(reply.id)
      })
      child.once("error", (error) =>
        resume(Effect.fail(new NetworkError({ message: `socket broker: ${error.message}` }))),
      )
      child.once("exit", (code) => {
        resume(Effect.fail(new NetworkError({ message: `socket broker exited with ${code}` })))
        for (const [id, settle] of pending) settle({ id, error: "socket broker exited" }, undefined)
        pending.clear()
      })
    }),
    (child) =>
      Effect.callback<void>((resume) => {
        if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.void)
        child.once("exit", () => resume(Effect.void))
        child.kill("SIGKILL")
      }),
  )
  const bind = (protocol: "tcp" | "udp", address: string, port: number) =>
    Effect.callback<net.Server | dgram.Socket, NetworkError>((resume) => {
      const request: BrokerRequest = { id: nextId++, protocol, address, port }
      pending.set(request.id, (reply, handle) =>
        resume(
          reply.error !== undefined || handle === undefined
            ? Effect.fail(
                new NetworkError({ message: `listen ${protocol} ${address}:${port}: ${reply.error ?? "no handle"}` }),
              )
            : Effect.succeed(handle as net.Server | dgram.Socket),
        ),
      )
      child.send(request)
    })
  return { bind } as BrokerClient
})
