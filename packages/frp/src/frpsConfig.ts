import { stringify } from "smol-toml"
import { envReference, escapeTemplate } from "./template.ts"
import { Env } from "./version.ts"

/**
 * frp's stream multiplexing (`transport.tcpMux`), the same on both sides: on. `pnpm bench` (frpc → frps on loopback,
 * TLS forced) measures it off at about 1.4× the throughput and 0.05 ms less per round trip, but twice the time to open
 * a connection on loopback — and over the Internet each new work connection is then a TCP and TLS handshake across
 * the ocean, and one more connection counted against the Machine's concurrency in Fly's proxy. On, frpc holds one
 * connection whatever the load, and a new user connection is a stream on it. Counted in CPU (the bench's "where the
 * CPU goes"), off saves frps and frpc 0.6–1.0 of their 3.7–3.8 ms per MiB; the tunnel's ceiling on two cores, set by
 * everything else on its path too, would rise 7–11 % and stay under 0.4× frp alone: not worth the handshakes.
 */
export const TCP_MUX = true

/** Both sides must list the same scopes; they bind heartbeats and work connections to the token. */
export const AUTH_SCOPES = ["HeartBeats", "NewWorkConns"] as const

export interface TunnelPort {
  readonly port: number
  readonly protocol: "TCP" | "UDP"
}

export interface FrpsInput {
  /** frps's control port (see chooseControlPorts). */
  readonly bindPort: number
  /** The tunnel's public ports: exactly these may be bound. */
  readonly ports: ReadonlyArray<TunnelPort>
  /** Listen address of the control port; frp's default 0.0.0.0 unless a test needs loopback. */
  readonly bindAddr?: string
  /** Address the public ports bind; frp's default (= bindAddr) unless set. */
  readonly proxyBindAddr?: string
  /**
   * frps's own certificate and the CA frpc's certificate must come from (files on the Machine). With
   * `trustedCaFile` frps requires and verifies a client certificate. Without any, frps makes a fresh self-signed
   * certificate at each start, which no client can verify.
   */
  readonly tls?: { readonly certFile: string; readonly keyFile: string; readonly trustedCaFile: string }
  /** Stream multiplexing over one connection per frpc; must match frpc's. Default: `TCP_MUX` (see there). */
  readonly tcpMux?: boolean
}

/** frps.toml as data (frp's v1 keys). */
export interface FrpsConfig {
  readonly bindAddr?: string
  readonly bindPort: number
  readonly proxyBindAddr?: string
  readonly auth: { readonly method: "token"; readonly token: string; readonly additionalScopes: ReadonlyArray<string> }
  readonly transport: {
    readonly tls: {
      readonly force: true
      readonly certFile?: string
      readonly keyFile?: string
      readonly trustedCaFile?: string
    }
    readonly tcpMux: boolean
  }
  readonly allowPorts: ReadonlyArray<{ readonly single: number }>
  readonly maxPortsPerClient: number
  readonly detailedErrorsToClient: boolean
  readonly log: { readonly to: "console"; readonly level: "info"; readonly disablePrintColor: true }
}

/**
 * The frps config of one Machine. The token is only a reference to the `FRP_TOKEN` env var (a
 * Fly app secret), so the Machine config never holds it. No `webServer`: no dashboard, no API.
 * `detailedErrorsToClient` stays on: only a client holding the tunnel's token gets that far, and
 * errors like `port not allowed` in frpc's status are what a user needs to see.
 */
export const frpsConfig = (input: FrpsInput): FrpsConfig => {
  const ports = [...new Set(input.ports.map((port) => port.port))].sort((a, b) => a - b)
  if (ports.includes(input.bindPort)) throw new Error(`control port ${input.bindPort} collides with a tunnel port`)
  return {
    ...(input.bindAddr === undefined ? {} : { bindAddr: escapeTemplate(input.bindAddr) }),
    bindPort: input.bindPort,
    ...(input.proxyBindAddr === undefined ? {} : { proxyBindAddr: escapeTemplate(input.proxyBindAddr) }),
    auth: { method: "token", token: envReference(Env.token), additionalScopes: AUTH_SCOPES },
    transport: {
      tls: {
        force: true,
        ...(input.tls === undefined
          ? {}
          : {
              certFile: escapeTemplate(input.tls.certFile),
              keyFile: escapeTemplate(input.tls.keyFile),
              trustedCaFile: escapeTemplate(input.tls.trustedCaFile),
            }),
      },
      tcpMux: input.tcpMux ?? TCP_MUX,
    },
    allowPorts: ports.map((single) => ({ single })),
    // Per frpc connection: each replica registers every port once.
    maxPortsPerClient: input.ports.length,
    detailedErrorsToClient: true,
    log: { to: "console", level: "info", disablePrintColor: true },
  }
}

export const renderFrpsToml = (config: FrpsConfig): string => stringify(config)
