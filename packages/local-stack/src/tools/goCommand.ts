import { spawn } from "node:child_process"

export class GoMissingError extends Error {
  override readonly name = "GoMissingError"
  constructor() {
    super(
      "Go is needed to build the test binaries (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, " +
        "kubectl, frps, frpc, helm, actionlint, registry) and was not found on PATH. Install Go 1.26 or newer (https://go.dev/dl/), " +
        "or point FTO_TOOL_<NAME> variables at existing binaries, then run `./dev tools`.",
    )
  }
}

export class GoCommandError extends Error {
  override readonly name = "GoCommandError"
}

export interface GoCommandOptions {
  readonly cwd: string
  readonly env?: Readonly<Record<string, string>>
  /** Receives build output as it happens, so a cold build shows progress. */
  readonly onOutput?: (line: string) => void
}

/** Runs `go ARGS…` and resolves with its stdout; rejects with the tail of its output on failure. */
export const runGo = (args: ReadonlyArray<string>, options: GoCommandOptions): Promise<string> =>
  new Promise((resolve, reject) => {
    const child = spawn("go", args, {
      cwd: options.cwd,
      env: { ...process.env, CGO_ENABLED: "0", GOFLAGS: "-buildvcs=false", ...options.env },
      stdio: ["ignore", "pipe", "pipe"],
    })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString()
    })
    child.stderr.on("data", (chunk: Buffer) => {
      const text = chunk.toString()
      stderr = (stderr + text).slice(-8_000)
      for (const line of text.split("\n")) if (line.trim() !== "") options.onOutput?.(line)
    })
    child.on("error", (error: NodeJS.ErrnoException) => reject(error.code === "ENOENT" ? new GoMissingError() : error))
    child.on("close", (code) =>
      code === 0
        ? resolve(stdout)
        : reject(new GoCommandError(`go ${args.join(" ")} failed (exit ${code}) in ${options.cwd}:\n${stderr}`)),
    )
  })
