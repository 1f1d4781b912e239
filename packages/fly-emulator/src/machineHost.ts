/**
 * The seam between the API's state machine and whatever runs machines and carries traffic.
 * The state code decides *what* should run; a host makes it so (real frps processes, the Fly
 * proxy, addresses) or, in memory, only pretends.
 */

export type PublicIpType = "v4" | "v6" | "shared_v4"

/** One check of a Machine under the name Fly reports it by (see machineChecks.ts). */
export interface NamedCheck {
  readonly name: string
  /** The port a probe dials when the check names none. */
  readonly internalPort: number
  readonly check: Readonly<Record<string, unknown>>
}

/** What a host's health checker last saw of one check; `since` is when the result last changed (ISO). */
export interface CheckObservation {
  readonly passing: boolean
  readonly output: string
  readonly since: string
}

/** Counters of the Fly proxy's UDP path, for tests that prove a datagram went nowhere by counting. */
export interface ProxyStats {
  /** Client datagrams handed to a Machine's `fly-global-services` address. */
  readonly udpDatagramsForwarded: number
  /** Machine replies sent back to clients (they came from `fly-global-services`). */
  readonly udpRepliesForwarded: number
  /** Machine replies dropped because they came from another source address or port. */
  readonly udpRepliesDropped: number
  /** TCP connections a test's man in the middle terminated TLS on (interceptTls). */
  readonly tlsInterceptedConnections: number
}

/** What a host needs to boot one machine version. */
export interface MachineSpec {
  readonly id: string
  readonly app: string
  readonly instanceId: string
  readonly image: string
  readonly region: string
  /** The 6PN address the API reports (`fdaa:…`). */
  readonly privateIp: string
  /** The machine config as the API stores it (`init`, `files`, `services`, `checks`, …). */
  readonly config: Readonly<Record<string, unknown>>
  /** App secrets merged into `config.env` (config wins on a clash, as on Fly). */
  readonly env: Readonly<Record<string, string>>
  /** App secrets by name, for `config.files[].secret_name`. */
  readonly secrets: Readonly<Record<string, string>>
  /** The Machine's checks (top-level and service), named as Fly names them. */
  readonly checks: ReadonlyArray<NamedCheck>
}

export interface MachineExit {
  readonly exitCode: number
  readonly signal?: string
}

/** One public listener: an App address and port, forwarded to started machines' internal ports. */
export interface ProxyRoute {
  readonly app: string
  readonly ip: string
  readonly ipType: PublicIpType
  readonly protocol: "tcp" | "udp"
  readonly port: number
  readonly handlers: ReadonlyArray<string>
  /** PROXY protocol version when the `proxy_proto` handler is set. */
  readonly proxyProtoVersion?: "v1" | "v2"
  /** A test fault: a man in the middle terminates TLS on this address and port (not Fly behaviour). */
  readonly interceptTls?: boolean
  /** `force_https` of the port (only with the `http` handler). */
  readonly forceHttps?: boolean
  /** Names the App answers to on Fly's edge: `<app>.fly.dev` and the hostnames of its certificates. */
  readonly hostnames: ReadonlyArray<string>
  /** Names the edge holds an issued certificate for: `<app>.fly.dev` and the App's active certificates. */
  readonly certifiedNames: ReadonlyArray<string>
  readonly targets: ReadonlyArray<{
    readonly machineId: string
    readonly internalPort: number
    /** The service's checks and the machine's readiness checks; the proxy skips machines failing any. */
    readonly checks: ReadonlyArray<Readonly<Record<string, unknown>>>
  }>
}

export interface MachineHost {
  /** Boots a machine; resolves once it runs. `onExit` fires when the process ends on its own. */
  readonly startMachine: (spec: MachineSpec, onExit: (exit: MachineExit) => void) => Promise<void>
  /** Stops a machine's process (if any); resolves once it is gone. `onExit` is not called. */
  readonly stopMachine: (id: string, options?: { signal?: string; timeoutMs?: number }) => Promise<void>
  /** The machine is destroyed: free what the host keeps for it (its address, its files). */
  readonly releaseMachine: (id: string) => Promise<void>
  readonly allocatePublicIp: (type: PublicIpType) => Promise<string>
  readonly releasePublicIp: (ip: string) => Promise<void>
  /** Replaces the proxy's whole routing table. */
  readonly syncProxy: (routes: ReadonlyArray<ProxyRoute>) => Promise<void>
  /** Where a test reaches an App's public address from this host. */
  readonly publicAddress: (ip: string, port: number) => { host: string; port: number }
  /**
   * What the host's health checker sees of a started Machine's checks, by check name. Absent on a
   * host that runs no processes: there the API reports checks as tests mark them (checkMarks.ts).
   */
  readonly checkObservations?: (machineId: string) => ReadonlyMap<string, CheckObservation>
  readonly proxyStats?: () => ProxyStats
  readonly close: () => Promise<void>
}

/**
 * A host that runs nothing: machines move through their states without a process and nothing
 * listens on the public addresses. IPv4s look like Fly's; IPv6s come from the documentation
 * prefix 2001:db8::/32, as in namespace mode.
 */
export const inMemoryMachineHost = (): MachineHost => {
  let nextV4 = 1
  let nextV6 = 1
  let nextShared = 1
  return {
    startMachine: async () => {},
    stopMachine: async () => {},
    releaseMachine: async () => {},
    allocatePublicIp: async (type) => {
      if (type === "v4") {
        const n = nextV4++
        return `137.66.${Math.floor(n / 250)}.${(n % 250) + 1}`
      }
      if (type === "shared_v4") {
        const n = nextShared++
        return `66.241.${124 + Math.floor(n / 250)}.${(n % 250) + 1}`
      }
      return `2001:db8:f1e::${(nextV6++).toString(16)}`
    },
    releasePublicIp: async () => {},
    syncProxy: async () => {},
    // Nothing listens anywhere; the address is returned as is.
    publicAddress: (ip, port) => ({ host: ip, port }),
    close: async () => {},
  }
}
