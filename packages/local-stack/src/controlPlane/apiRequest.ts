import { request } from "node:https"
import { Effect } from "effect"
import { ControlPlaneError } from "./errors.ts"

/** TLS material to talk to the apiserver as one client-certificate user. */
export interface ApiClientTls {
  readonly server: string
  readonly caPem: string
  readonly certPem: string
  readonly keyPem: string
}

export interface ApiResponse {
  readonly status: number
  readonly body: string
}

/** One HTTPS request to the apiserver over mTLS; any HTTP status is a success, transport errors fail. */
export const apiRequest = (
  tls: ApiClientTls,
  method: "GET" | "POST",
  path: string,
  body?: unknown,
): Effect.Effect<ApiResponse, ControlPlaneError> =>
  Effect.callback((resume, signal) => {
    const payload = body === undefined ? undefined : JSON.stringify(body)
    const req = request(
      new URL(path, tls.server),
      {
        method,
        ca: tls.caPem,
        cert: tls.certPem,
        key: tls.keyPem,
        signal,
        headers: payload === undefined ? {} : { "content-type": "application/json" },
      },
      (res) => {
        const chunks: Array<Buffer> = []
        res.on("data", (chunk: Buffer) => chunks.push(chunk))
        res.on("end", () =>
          resume(Effect.succeed({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") })),
        )
        res.on("error", (error) =>
          resume(Effect.fail(new ControlPlaneError({ message: `${method} ${path}: ${error.message}` }))),
        )
      },
    )
    req.on("error", (error) =>
      resume(Effect.fail(new ControlPlaneError({ message: `${method} ${path}: ${error.message}` }))),
    )
    req.end(payload)
  })
