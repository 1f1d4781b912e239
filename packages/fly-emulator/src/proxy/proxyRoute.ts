/**
 * One App's part of a public listener of the Fly proxy and the machines behind it. A listener (address, port,
 * protocol) has one route, or on a shared IPv4 one per App, told apart by TLS SNI or the HTTP Host header.
 */
export interface ProxyRoute {
  readonly app?: string
  readonly publicIp: string
  readonly port: number
  readonly protocol: "tcp" | "udp"
  /** Fly port handlers; the proxy acts on `proxy_proto` (the others pass TCP through unchanged). */
  readonly handlers: ReadonlyArray<string>
  /** PROXY protocol version for the `proxy_proto` handler; v1 when unset, as on Fly. */
  readonly proxyProto?: "v1" | "v2" | undefined
  /** The address is a shared IPv4: only hostname routing reaches the App (no fallback to its one route). */
  readonly shared?: boolean
  /** Names the App answers to: `<app>.fly.dev` and the hostnames of its certificates, issued or not (Host routing). */
  readonly hostnames?: ReadonlyArray<string>
  /** Names the edge has a certificate for: `<app>.fly.dev` and the App's issued hostnames (TLS termination). */
  readonly certifiedNames?: ReadonlyArray<string>
  /** `force_https` of the port: plain HTTP requests are redirected to HTTPS. */
  readonly forceHttps?: boolean
  readonly backends: ReadonlyArray<ProxyBackend>
  /** A test fault: a man in the middle terminates TLS on this port (proxy/tlsInterception.ts). */
  readonly interceptTls?: boolean | undefined
}

export interface ProxyBackend {
  readonly machineId: string
  /** The machine's primary address (EmulatorNetwork.allocateMachineAddress): TCP and checks go here. */
  readonly address: string
  /** The machine's `fly-global-services` address: UDP goes here and only replies from it come back. */
  readonly globalServices: string
  readonly internalPort: number
  /** The service's checks and the machine's readiness checks (fly.MachineCheck shape); all must pass. */
  readonly checks: ReadonlyArray<Readonly<Record<string, unknown>>>
}

/** One check the proxy probes for a machine whether or not a route uses it, under Fly's name. */
export interface WatchedCheck {
  readonly name: string
  readonly internalPort: number
  readonly check: Readonly<Record<string, unknown>>
}

export const routeKey = (route: Pick<ProxyRoute, "protocol" | "publicIp" | "port">): string =>
  `${route.protocol}|${route.publicIp}|${route.port}`
