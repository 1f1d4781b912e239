import type { PublicIpType } from "./machineHost.ts"

export type MachineState =
  | "created"
  | "starting"
  | "started"
  | "stopping"
  | "stopped"
  | "suspended"
  | "failed"
  | "replacing"
  | "destroying"
  | "destroyed"

/** What Fly's API knows of the host a Machine lives on (the Machines API's Machine object). */
export type HostStatus = "ok" | "unknown" | "unreachable"

export const hostStatuses: ReadonlyArray<HostStatus> = ["ok", "unknown", "unreachable"]

/** A lease on a Machine (the Machines API's leases); `expiresAt` is epoch seconds. */
export interface LeaseRecord {
  readonly nonce: string
  readonly owner: string
  readonly description: string
  readonly version: string
  expiresAt: number
}

export interface MachineEvent {
  readonly id: string
  readonly type: string
  readonly status: string
  readonly source: "user" | "flyd"
  readonly timestamp: number
  readonly request?: Record<string, unknown>
}

export interface AppRecord {
  readonly id: string
  readonly name: string
  readonly orgSlug: string
  readonly network: string
  readonly networkIndex: number
  readonly internalNumericId: number
  readonly createdAt: number
  readonly idempotencyKey?: string
  secretsVersion: number
}

export interface MachineRecord {
  readonly id: string
  readonly app: string
  readonly name: string
  readonly region: string
  readonly privateIp: string
  readonly createdAt: string
  state: MachineState
  instanceId: string
  config: Record<string, unknown>
  updatedAt: string
  /** Newest first. */
  events: Array<MachineEvent>
  /** Bumped by every user action so late callbacks of an older one are ignored. */
  generation: number
  /** Restarts of the current version by the restart policy. */
  restarts: number
  /** Whether the host runs a process for it right now. */
  running: boolean
  skipServiceRegistration: boolean
  /** Set through the control surface; anything but "ok" hides the config from API answers. */
  hostStatus: HostStatus
  lease?: LeaseRecord
  /** Epoch ms of destruction; GET answers 404 once the retention has passed. */
  destroyedAt?: number
}

export interface IpRecord {
  readonly ip: string
  readonly app: string
  readonly type: PublicIpType | "private_v6"
  readonly region: string
  readonly shared: boolean
  readonly serviceName: string
  readonly createdAt: string
  readonly network: { readonly name: string; readonly org_slug: string } | null
}

export interface SecretRecord {
  readonly name: string
  readonly value: string
  readonly digest: string
  readonly createdAt: string
  readonly updatedAt: string
}

/** A validation error as Fly reports it on a certificate (`validation_errors[]`). */
export interface CertificateValidationError {
  readonly code: string
  readonly message: string
  readonly remediation: string
  readonly timestamp: string
}

/** One hostname of an App and its ACME certificate (see acme.ts for how it moves). */
export interface CertificateRecord {
  readonly hostname: string
  readonly app: string
  readonly createdAt: string
  updatedAt: string
  status: "pending_validation" | "active"
  /** When Let's Encrypt issued (an `active` certificate). */
  issuedAt?: string
  validationErrors: Array<CertificateValidationError>
  rateLimitedUntil?: string
  /** What the last validation found in DNS. */
  dnsConfigured: boolean
}

/**
 * What the world's DNS says of a hostname, as the emulator is told (`/_emulator/dns`): it leads to this App by its
 * addresses (A/AAAA), by a CNAME to `<app>.fly.dev`, or only its `_acme-challenge` CNAME is in place.
 */
export interface DnsRecord {
  readonly app: string
  readonly via: "address" | "cname" | "acme_challenge"
}

/** Everything the emulated Fly knows, in memory. */
export class Store {
  readonly apps = new Map<string, AppRecord>()
  readonly machines = new Map<string, MachineRecord>()
  ips: Array<IpRecord> = []
  readonly secrets = new Map<string, Map<string, SecretRecord>>()
  /** Certificates by App, then by hostname. */
  readonly certificates = new Map<string, Map<string, CertificateRecord>>()
  /** The world's DNS, by hostname (not Fly's state: the control surface sets it). */
  readonly dns = new Map<string, DnsRecord>()
  /** The shared IPv4 being allocated for the first App that asked, so that others wait for it (ipAssignmentsApi.ts). */
  sharedIpv4Allocation: Promise<string> | undefined
  private readonly listeners = new Set<() => void>()
  private counter = 0

  /** A fresh number for 6PN networks, numeric ids and host indexes. */
  next(): number {
    this.counter += 1
    return this.counter
  }

  /** Calls `listener` after every change until the returned function is called. */
  subscribe(listener: () => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  changed(): void {
    for (const listener of [...this.listeners]) listener()
  }

  certificatesOf(app: string): Array<CertificateRecord> {
    return [...(this.certificates.get(app)?.values() ?? [])]
  }

  machinesOf(app: string): Array<MachineRecord> {
    return [...this.machines.values()].filter((machine) => machine.app === app)
  }

  clear(): void {
    this.apps.clear()
    this.machines.clear()
    this.ips = []
    this.secrets.clear()
    this.certificates.clear()
    this.dns.clear()
    this.sharedIpv4Allocation = undefined
    this.changed()
  }
}
