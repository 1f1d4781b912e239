import { Schema } from "effect"

/**
 * Condition types on a FlyTunnel. `Ready` is true when the four parts of the data path are (App, Machines, address,
 * client). `CertificatesReady` (only on a tunnel with hostnames) is its own: DNS must point at the published address
 * before Fly can issue a certificate, so the address never waits for one.
 */
export const ConditionTypes = [
  "Ready",
  "AppReady",
  "MachinesReady",
  "AddressReady",
  "ClientReady",
  "CertificatesReady",
] as const
export type ConditionType = (typeof ConditionTypes)[number]

/**
 * The stable reasons conditions and Events carry. Users and alerts match on these, so they are
 * public API: add new ones, never rename.
 */
export const Reasons = {
  /** Work has started; nothing is known to be wrong. */
  Provisioning: "Provisioning",
  /** The Fly App exists and carries our ownership mark. */
  AppCreated: "AppCreated",
  /** The derived App name belongs to an App without our mark; we never adopt it. */
  AppNameTaken: "AppNameTaken",
  /** The App named in `spec.adopt` was taken over: it carries this cluster's and this tunnel's marks. */
  AppAdopted: "AppAdopted",
  /** The App named in `spec.adopt` may not be taken over (gone, another's, or not holding the IPv4); nothing was changed on it. */
  AdoptionRefused: "AdoptionRefused",
  /** A Machine is being created or updated and is not started yet. */
  MachineCreating: "MachineCreating",
  /** Every Machine runs the desired config. */
  MachineStarted: "MachineStarted",
  /** The Machines are being moved to a new config, one region at a time; the others keep serving. */
  MachineUpdating: "MachineUpdating",
  /** The dedicated IPv4 is allocated. */
  AddressAllocated: "AddressAllocated",
  /** The frpc Deployment is being rolled out or has not reported its proxies yet. */
  ClientDeploying: "ClientDeploying",
  /** frpc is connected and every proxy is running. */
  ClientReady: "ClientReady",
  /** Everything is provisioned and the tunnel carries traffic. */
  Ready: "Ready",
  /** Fly refused the API token (401/403). */
  FlyUnauthorized: "FlyUnauthorized",
  /** Fly rate-limited us (429); retried with backoff. */
  FlyRateLimited: "FlyRateLimited",
  /** Fly had no capacity in the region (or the region refused the Machine). */
  FlyCapacity: "FlyCapacity",
  /** Any other Fly API failure; the message has the details. */
  FlyError: "FlyError",
  /** The spec (or a Service annotation) is invalid; the message names the field. */
  InvalidSpec: "InvalidSpec",
  /** The target Service does not exist or has no ClusterIP. */
  TargetNotFound: "TargetNotFound",
  /**
   * A Service asks for `spec.loadBalancerSourceRanges`, which the tunnel cannot enforce: a new Service is not
   * published; a published one stays so, with a Warning, until the field goes or `ignore-source-ranges` accepts it.
   */
  SourceRangesNotEnforced: "SourceRangesNotEnforced",
  /**
   * frps presented a certificate that does not verify against the tunnel's CA: something between the cluster and
   * Fly terminates TLS. frpc refuses to connect, so nothing is carried.
   */
  CertificateVerificationFailed: "CertificateVerificationFailed",
  /** The operator's CA Secret cannot sign (unreadable, not a CA, key mismatch, expired); it is never overwritten. */
  CertificateAuthorityInvalid: "CertificateAuthorityInvalid",
  /** Teardown is in progress. */
  Deleting: "Deleting",
  /** A Fly delete failed; the finalizer stays until it succeeds (or `force-delete` is set). */
  DeleteFailed: "DeleteFailed",
  /** Every hostname's certificate is issued. Also the Event when one becomes active. */
  CertificateActive: "CertificateActive",
  /** A certificate waits for its DNS records (status.certificates lists them). */
  CertificatePending: "CertificatePending",
  /** Fly reported validation errors for a certificate (each with Fly's remediation). Also the Event. */
  CertificateFailed: "CertificateFailed",
  /** Let's Encrypt's rate limit holds a certificate back until the time Fly names. Also the Event. */
  CertificateRateLimited: "CertificateRateLimited",
} as const
export type Reason = (typeof Reasons)[keyof typeof Reasons]

/** Phases, coarsest summary of the conditions (for the printer column and humans). */
export const Phases = ["Pending", "Provisioning", "Ready", "Failed", "Deleting"] as const
export type Phase = (typeof Phases)[number]

export const Phase = Schema.Literals(Phases)
