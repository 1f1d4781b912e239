// The ACME side of a certificate, as Fly runs it for a hostname: `pending_validation` until the hostname's DNS leads
// to the App, then Let's Encrypt issues and the certificate is `active`. What "the DNS leads to the App" means is set
// through the control surface (`/_emulator/dns`); Fly validates on its own once DNS is right and again on `check`,
// here whenever the DNS or the ACME faults change and on every `check`.
import type { AcmeFaults } from "./acmeFaults.ts"
import type { CertificateRecord, Store } from "./store.ts"

const isoNow = (now: number) => new Date(now).toISOString().replace(/\.\d+Z$/, "Z")

/**
 * One validation attempt. Issues unless the DNS does not lead to the App, the App has no IPv6 while the DNS points at
 * its addresses (Fly's docs: "Our hostname validation will fail without an IPv6 address and we won't attempt to issue
 * or renew a certificate ... If you use a CNAME `_acme-challenge` ... you don't need to worry about this"), or an ACME
 * fault is armed for the hostname. Returns whether anything changed.
 */
export const validateCertificate = (
  store: Store,
  faults: AcmeFaults,
  certificate: CertificateRecord,
  now: number = Date.now(),
): boolean => {
  if (certificate.status === "active") return false
  const before = JSON.stringify(certificate)
  const dns = store.dns.get(certificate.hostname)
  const leadsHere = dns !== undefined && dns.app === certificate.app
  certificate.dnsConfigured = leadsHere && dns.via !== "acme_challenge"
  const at = isoNow(now)
  const hasIpv6 = store.ips.some((ip) => ip.app === certificate.app && ip.type === "v6")
  const fault = faults.of(certificate.hostname)
  if (!leadsHere) {
    certificate.validationErrors = []
  } else if (dns.via !== "acme_challenge" && !hasIpv6) {
    certificate.validationErrors = [
      {
        code: "IPV6_NOT_ALLOCATED",
        message: "The app has no IPv6 address, so the hostname cannot be validated",
        remediation: "Allocate an IPv6 address to the app, or validate with the _acme-challenge CNAME",
        timestamp: at,
      },
    ]
  } else if (fault?.kind === "validation_error") {
    certificate.validationErrors = [
      { code: fault.code, message: fault.message, remediation: fault.remediation ?? "", timestamp: at },
    ]
  } else if (
    fault?.kind === "rate_limited" &&
    (certificate.rateLimitedUntil === undefined || Date.parse(certificate.rateLimitedUntil) > now)
  ) {
    certificate.validationErrors = []
    certificate.rateLimitedUntil ??= isoNow(now + (fault.seconds ?? 3600) * 1000)
  } else {
    certificate.validationErrors = []
    delete certificate.rateLimitedUntil
    certificate.status = "active"
    certificate.issuedAt = at
  }
  const changed = JSON.stringify(certificate) !== before
  if (changed) certificate.updatedAt = at
  return changed
}

/** Validates every pending certificate of a hostname (any App); true when one changed. */
export const validateHostname = (store: Store, faults: AcmeFaults, hostname: string): boolean => {
  let changed = false
  for (const certificates of store.certificates.values()) {
    const certificate = certificates.get(hostname)
    if (certificate !== undefined && validateCertificate(store, faults, certificate)) changed = true
  }
  return changed
}
