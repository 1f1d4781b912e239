import { spawn } from "node:child_process"
import { mkdtemp, rm, writeFile } from "node:fs/promises"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, Schedule } from "effect"

/** An OCI registry on loopback: the CNCF distribution registry, plain HTTP, storage in a temporary directory. */
export interface OciRegistry {
  /** `127.0.0.1:<port>`, as in `oci://127.0.0.1:<port>/charts`. */
  readonly host: string
  /** Everything the registry printed, for a failing test's message. */
  readonly output: () => string
}

const freeLoopbackPort = () =>
  Effect.callback<number>((resume) => {
    const server = createServer()
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      server.close(() => resume(Effect.succeed(port)))
    })
  })

const answers = (host: string) =>
  Effect.tryPromise(() => fetch(`http://${host}/v2/`)).pipe(
    Effect.flatMap((response) =>
      response.status === 200 ? Effect.void : Effect.fail(new Error(`/v2/ answered ${response.status}`)),
    ),
  )

/** Starts `registry serve` on a free loopback port; stopped (and its storage removed) when the scope closes. */
export const startOciRegistry = (registryBinary: string) =>
  Effect.gen(function* () {
    const dir = yield* Effect.acquireRelease(
      Effect.promise(() => mkdtemp(join(tmpdir(), "fto-oci-registry-"))),
      (path) => Effect.promise(() => rm(path, { recursive: true, force: true })),
    )
    const port = yield* freeLoopbackPort()
    const host = `127.0.0.1:${port}`
    const config = [
      "version: 0.1",
      "log:",
      "  level: warn",
      "storage:",
      "  filesystem:",
      `    rootdirectory: ${join(dir, "storage")}`,
      "http:",
      `  addr: ${host}`,
      "",
    ].join("\n")
    yield* Effect.promise(() => writeFile(join(dir, "config.yml"), config))
    let output = ""
    yield* Effect.acquireRelease(
      Effect.sync(() => {
        // No tracing exporter: nothing leaves the machine.
        const child = spawn(registryBinary, ["serve", join(dir, "config.yml")], {
          env: { PATH: process.env.PATH ?? "", OTEL_TRACES_EXPORTER: "none" },
          stdio: ["ignore", "pipe", "pipe"],
        })
        const collect = (chunk: Buffer) => {
          output = (output + chunk.toString()).slice(-20_000)
        }
        child.stdout.on("data", collect)
        child.stderr.on("data", collect)
        return child
      }),
      (child) =>
        Effect.callback<void>((resume) => {
          if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.void)
          child.once("exit", () => resume(Effect.void))
          child.kill("SIGTERM")
        }),
    )
    yield* answers(host).pipe(
      Effect.retry({ schedule: Schedule.spaced("100 millis"), times: 100 }),
      Effect.mapError((error) => new Error(`the registry did not answer on ${host}: ${error.message}\n${output}`)),
      Effect.orDie,
    )
    return { host, output: () => output } satisfies OciRegistry
  })
