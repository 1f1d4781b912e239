import type { CertificateStatus, FlyTunnelStatus } from "@fly-tunnel-operator/api"
import { Reasons } from "@fly-tunnel-operator/api"

export interface CertificateEvent {
  readonly type: "Normal" | "Warning"
  readonly reason: string
  readonly message: string
}

/** Events for certificates that changed since the last status: issued, failed validation, rate limited. */
export const certificateEvents = (
  before: FlyTunnelStatus | undefined,
  after: ReadonlyArray<CertificateStatus>,
): ReadonlyArray<CertificateEvent> =>
  after.flatMap((certificate): ReadonlyArray<CertificateEvent> => {
    const previous = before?.certificates?.find((entry) => entry.hostname === certificate.hostname)
    const errors = (certificate.validationErrors ?? []).map((error) => error.code).join(",")
    if (certificate.status === "active" && previous?.status !== "active")
      return [
        {
          type: "Normal",
          reason: Reasons.CertificateActive,
          message: `Fly's certificate for ${certificate.hostname} is active`,
        },
      ]
    if (errors !== "" && errors !== (previous?.validationErrors ?? []).map((error) => error.code).join(","))
      return [
        {
          type: "Warning",
          reason: Reasons.CertificateFailed,
          message: `Fly could not validate ${certificate.hostname}: ${(certificate.validationErrors ?? []).map((error) => `${error.code}: ${error.message}${error.remediation === undefined ? "" : ` (${error.remediation})`}`).join("; ")}`,
        },
      ]
    if (certificate.rateLimitedUntil !== undefined && previous?.rateLimitedUntil !== certificate.rateLimitedUntil)
      return [
        {
          type: "Warning",
          reason: Reasons.CertificateRateLimited,
          message: `Let's Encrypt's rate limit holds the certificate for ${certificate.hostname} until ${certificate.rateLimitedUntil}`,
        },
      ]
    return []
  })
