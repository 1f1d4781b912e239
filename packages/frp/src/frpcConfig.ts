import { stringify } from "smol-toml"
import { AUTH_SCOPES, TCP_MUX } from "./frpsConfig.ts"
import { envReference, escapeTemplate } from "./template.ts"
import { Env } from "./version.ts"

export interface ClientPort {
  /** Proxy name: a DNS label (validated by the FlyTunnel schema, checked again here). */
  readonly name: string
  readonly protocol: "TCP" | "UDP"
  /** Public port (frps's remotePort). */
  readonly port: number
  /** Port on the target. */
  readonly targetPort: number
}

export interface FrpcInput {
  /** The tunnel's public IP: frpc reaches its frps through Fly's proxy. */
  readonly serverAddr: string
  readonly serverPort: number
  /** The target frpc dials: the Service's ClusterIP or the address target's host. */
  readonly localIP: string
  readonly ports: ReadonlyArray<ClientPort>
  /** frpc's admin API on 127.0.0.1 (tests read proxy status from it); none when absent, as the operator runs frpc. */
  readonly adminPort?: number
  /** Stream multiplexing; must match frps's. Default `TCP_MUX`. */
  readonly tcpMux?: boolean
  /** Work connections kept ready for new user connections (frps allows up to 5). Default `POOL_COUNT`. */
  readonly poolCount?: number
  /**
   * Verify frps and present frpc's own certificate: the CA bundle frps's certificate must chain to, the name it
   * must carry, and frpc's client pair (files in the Pod). Without it frpc accepts any certificate.
   */
  readonly tls?: {
    readonly trustedCaFile: string
    readonly serverName: string
    readonly certFile: string
    readonly keyFile: string
    /**
     * An environment variable holding the directory the three files are in (then they are names in it): the path is
     * the Pod's to give, as its token is.
     */
    readonly directoryEnv?: string
  }
  /**
   * Exit when the first login fails instead of retrying (default false). For a UDP frpc it is how readiness is known:
   * a Pod that keeps running has logged in, and its UDP proxies are registered (UDP has no Fly check).
   */
  readonly loginFailExit?: boolean
}

/**
 * Work connections frpc keeps open ahead of use (frps allows up to 5): a new user connection then skips the
 * frps → frpc round trip that asks for one, up to five at once. On loopback `pnpm bench` cannot tell 5 from 1 (a new
 * connection 0.65–0.77 ms against 0.69–0.70, runs disagreeing within their noise): the round trip it saves is the
 * one across the Internet between the cluster and Fly, which loopback does not have.
 */
export const POOL_COUNT = 5

export interface FrpcProxy {
  readonly name: string
  readonly type: "tcp" | "udp"
  readonly localIP: string
  readonly localPort: number
  readonly remotePort: number
  readonly loadBalancer?: { readonly group: string; readonly groupKey: string }
}

/** frpc.toml as data (frp's v1 keys). */
export interface FrpcConfig {
  readonly serverAddr: string
  readonly serverPort: number
  readonly loginFailExit: boolean
  readonly user: string
  readonly auth: { readonly method: "token"; readonly token: string; readonly additionalScopes: ReadonlyArray<string> }
  readonly transport: {
    readonly protocol: "tcp"
    readonly tls: {
      readonly enable: true
      readonly trustedCaFile?: string
      readonly serverName?: string
      readonly certFile?: string
      readonly keyFile?: string
    }
    readonly tcpMux: boolean
    readonly poolCount: number
  }
  readonly webServer?: { readonly addr: "127.0.0.1"; readonly port: number }
  readonly log: { readonly to: "console"; readonly level: "info"; readonly disablePrintColor: true }
  readonly proxies: ReadonlyArray<FrpcProxy>
}

const PROXY_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/

/** A TLS file's path in the config: as given, or a name in the directory the `directoryEnv` variable holds. */
const tlsFile = (tls: NonNullable<FrpcInput["tls"]>, file: string): string =>
  tls.directoryEnv === undefined ? escapeTemplate(file) : `${envReference(tls.directoryEnv)}/${escapeTemplate(file)}`

/**
 * The frpc config shared by every replica (it goes into a Secret; the token itself comes from
 * `FRP_TOKEN`). Design choices:
 * - `user = POD_NAME`: proxy names are global in frps, so each replica's are prefixed with its Pod.
 * - Every TCP proxy joins a load-balancing group keyed by the token, even with one replica, so a
 *   rolling update's new Pod joins before the old one leaves (no `port already used` gap).
 *   UDP has no groups in frp: one replica serves a UDP port at a time.
 * - No `transport.proxyProtocolVersion`: PROXY headers come from Fly's `proxy_proto` handler and
 *   pass through frps and frpc untouched (frps never parses an incoming PROXY header); adding frpc's would send two.
 * - TLS both ways when `tls` is given (the operator always gives it): frpc verifies frps's
 *   certificate against the operator's CA and the tunnel's name, and presents its own, which frps
 *   requires; the token (with both auth scopes) must match as well.
 * - `loginFailExit = false` unless asked: frps may not be up yet; frpc keeps retrying instead of crash-looping.
 */
export const frpcConfig = (input: FrpcInput): FrpcConfig => {
  for (const port of input.ports) {
    if (!PROXY_NAME.test(port.name) || port.name.length > 63) throw new Error(`invalid proxy name: ${port.name}`)
  }
  const localIP = escapeTemplate(input.localIP)
  return {
    serverAddr: escapeTemplate(input.serverAddr),
    serverPort: input.serverPort,
    loginFailExit: input.loginFailExit ?? false,
    user: envReference(Env.podName),
    auth: { method: "token", token: envReference(Env.token), additionalScopes: AUTH_SCOPES },
    transport: {
      protocol: "tcp",
      tls: {
        enable: true,
        ...(input.tls === undefined
          ? {}
          : {
              trustedCaFile: tlsFile(input.tls, input.tls.trustedCaFile),
              serverName: escapeTemplate(input.tls.serverName),
              certFile: tlsFile(input.tls, input.tls.certFile),
              keyFile: tlsFile(input.tls, input.tls.keyFile),
            }),
      },
      tcpMux: input.tcpMux ?? TCP_MUX,
      poolCount: input.poolCount ?? POOL_COUNT,
    },
    ...(input.adminPort === undefined ? {} : { webServer: { addr: "127.0.0.1", port: input.adminPort } }),
    log: { to: "console", level: "info", disablePrintColor: true },
    proxies: input.ports.map((port) => ({
      name: escapeTemplate(port.name),
      type: port.protocol === "TCP" ? "tcp" : "udp",
      localIP,
      localPort: port.targetPort,
      remotePort: port.port,
      ...(port.protocol === "TCP"
        ? { loadBalancer: { group: escapeTemplate(port.name), groupKey: envReference(Env.token) } }
        : {}),
    })),
  }
}

export const renderFrpcToml = (config: FrpcConfig): string => stringify(config)
