// One TLS handshake with frps's control port, as frpc makes it: what the operator's certificate check learns from
// the network. A service, so a test tier whose Fly runs no frps (the in-memory host) dials nothing beyond the host.
import { type ConnectionOptions, connect } from "node:tls"
import { Context, Effect, Layer } from "effect"

const DIAL_TIMEOUT_MS = 3_000

/**
 * One TLS handshake as frpc makes it: why the certificate shown does not verify, or undefined when it does (or when
 * no certificate came at all). The handshake is completed either way and then dropped, so every verification
 * failure (chain, purpose, name, dates) is reported the same, as OpenSSL and Node name it.
 */
export const dialAsFrpc = (options: ConnectionOptions): Promise<string | undefined> =>
  new Promise((resolve) => {
    const socket = connect({ ...options, rejectUnauthorized: false, timeout: DIAL_TIMEOUT_MS })
    const finish = (verdict: string | undefined) => {
      socket.destroy()
      resolve(verdict)
    }
    socket.once("secureConnect", () => {
      const error = socket.authorizationError as unknown
      const reason = error instanceof Error ? error.message : error === undefined ? "unknown reason" : String(error)
      finish(socket.authorized ? undefined : `the certificate does not verify (${reason})`)
    })
    socket.once("timeout", () => finish(undefined))
    socket.once("error", () => finish(undefined))
  })

export class FrpsDialer extends Context.Service<
  FrpsDialer,
  {
    /** Why the certificate frps's control port shows does not verify; undefined when it does or none came. */
    readonly handshake: (options: ConnectionOptions) => Effect.Effect<string | undefined>
  }
>()("@fly-tunnel-operator/operator/tunnel/FrpsDialer") {
  static readonly layer: Layer.Layer<FrpsDialer> = Layer.succeed(
    FrpsDialer,
    FrpsDialer.of({ handshake: (options) => Effect.promise(() => dialAsFrpc(options)) }),
  )

  /**
   * For a Fly that runs no frps (the emulator's in-memory host): no public address answers, so every handshake ends
   * without a certificate, as a dial to an address nobody serves does — and nothing leaves the host.
   */
  static readonly layerNothingListens: Layer.Layer<FrpsDialer> = Layer.succeed(
    FrpsDialer,
    FrpsDialer.of({ handshake: () => Effect.succeed(undefined) }),
  )
}
