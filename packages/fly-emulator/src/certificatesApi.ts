import { Result, Schema } from "effect"
import { validateCertificate } from "./acme.ts"
import type { ApiContext, ApiRequest } from "./apiContext.ts"
import { appNotFound } from "./appsApi.ts"
import { failure, noContent, ok, type Reply } from "./reply.ts"
import { decodeBody } from "./requestBody.ts"
import type { AppRecord, CertificateRecord } from "./store.ts"

const CreateAcmeRequest = Schema.Struct({ hostname: Schema.String })

/** At least two labels; Fly refuses the rest with flyctl's message (superfly/flyctl#1577). */
const FQDN = /^(\*\.)?([a-z0-9]([-a-z0-9]*[a-z0-9])?\.)+[a-z0-9]([-a-z0-9]*[a-z0-9])?$/

const LIMIT_DEFAULT = 25
const LIMIT_MAX = 500
/** Let's Encrypt certificates last 90 days. */
const LIFETIME_MS = 90 * 24 * 60 * 60 * 1000

const certificateNotFound = (): Reply => failure(404, "certificate not found")

const addressesOf = (context: ApiContext, app: string) => {
  const ips = context.store.ips.filter((ip) => ip.app === app)
  return {
    a: ips.filter((ip) => ip.type === "v4" || ip.type === "shared_v4").map((ip) => ip.ip),
    aaaa: ips.filter((ip) => ip.type === "v6").map((ip) => ip.ip),
  }
}

/** The `_acme-challenge` CNAME target: `<hostname>.<app-specific label>.flydns.net`, as in Fly's example. */
const acmeTarget = (app: AppRecord, hostname: string) => `${hostname}.${app.id.slice(0, 6)}.flydns.net`

/** `CertificateDetail` with Fly's field names and types. */
export const certificateDetail = (context: ApiContext, app: AppRecord, certificate: CertificateRecord) => {
  const active = certificate.status === "active"
  const dns = context.store.dns.get(certificate.hostname)
  const viaAcme = dns?.app === app.name && dns.via === "acme_challenge"
  const expiresAt =
    certificate.issuedAt === undefined
      ? null
      : new Date(Date.parse(certificate.issuedAt) + LIFETIME_MS).toISOString().replace(/\.\d+Z$/, "Z")
  return {
    hostname: certificate.hostname,
    configured: active || certificate.dnsConfigured,
    acme_requested: true,
    status: certificate.status,
    dns_provider: "",
    rate_limited_until: certificate.rateLimitedUntil ?? null,
    certificates: active
      ? [
          {
            source: "fly",
            status: "active",
            created_at: certificate.issuedAt,
            expires_at: expiresAt,
            issuer: null,
            issued: [{ type: "ecdsa", expires_at: expiresAt, certificate_authority: "lets_encrypt" }],
          },
        ]
      : [],
    validation: {
      dns_configured: certificate.dnsConfigured || viaAcme,
      alpn_configured: certificate.dnsConfigured,
      http_configured: certificate.dnsConfigured,
      ownership_txt_configured: false,
    },
    dns_requirements: {
      ...addressesOf(context, app.name),
      cname: `${app.name}.fly.dev`,
      acme_challenge: {
        name: `_acme-challenge.${certificate.hostname}`,
        target: acmeTarget(app, certificate.hostname),
      },
      ownership: {
        name: `_fly-ownership.${certificate.hostname}`,
        app_value: `app-${app.id}`,
        org_value: `org-${app.orgSlug}`,
      },
    },
    validation_errors: certificate.validationErrors.map((error) => ({ ...error })),
  }
}

/** What `check` found in DNS, in the shape of Fly's `dns_records`. */
const dnsRecords = (context: ApiContext, app: AppRecord, certificate: CertificateRecord) => {
  const dns = context.store.dns.get(certificate.hostname)
  const here = dns?.app === app.name
  const addresses = here && dns.via !== "acme_challenge" ? addressesOf(context, app.name) : { a: [], aaaa: [] }
  return {
    a: dns?.via === "address" ? addresses.a : [],
    aaaa: dns?.via === "address" ? addresses.aaaa : [],
    cname: dns?.via === "cname" && here ? [`${app.name}.fly.dev`] : [],
    resolved_addresses: [...addresses.a, ...addresses.aaaa],
    soa: "",
    acme_challenge_cname: dns?.via === "acme_challenge" && here ? acmeTarget(app, certificate.hostname) : "",
    ownership_txt: "",
  }
}

const summary = (certificate: CertificateRecord, viaAcme: boolean) => ({
  hostname: certificate.hostname,
  status: certificate.status,
  dns_provider: "",
  acme_dns_configured: viaAcme,
  acme_alpn_configured: certificate.dnsConfigured,
  acme_http_configured: certificate.dnsConfigured,
  ownership_txt_configured: false,
  configured: certificate.status === "active" || certificate.dnsConfigured,
  acme_requested: true,
  has_custom_certificate: false,
  has_fly_certificate: certificate.status === "active",
  created_at: certificate.createdAt,
  updated_at: certificate.updatedAt,
})

/** `GET …/certificates`: `filter` (substring), `limit` (default 25, at most 500) and an opaque `cursor`. */
export const listCertificates = (context: ApiContext, request: ApiRequest): Reply => {
  const app = context.store.apps.get(request.params.app ?? "")
  if (!app) return appNotFound()
  const limitText = request.query.get("limit")
  const limit = limitText === null ? LIMIT_DEFAULT : Number(limitText)
  if (!Number.isInteger(limit) || limit < 1 || limit > LIMIT_MAX)
    return failure(400, `limit must be a whole number from 1 to ${LIMIT_MAX}`)
  const cursor = request.query.get("cursor")
  const offset = cursor === null ? 0 : Number(Buffer.from(cursor, "base64url").toString())
  if (!Number.isInteger(offset) || offset < 0) return failure(400, "invalid cursor")
  const filter = request.query.get("filter") ?? ""
  const matching = context.store.certificatesOf(app.name).filter((certificate) => certificate.hostname.includes(filter))
  const page = matching.slice(offset, offset + limit)
  const next = offset + limit < matching.length ? Buffer.from(String(offset + limit)).toString("base64url") : null
  return ok({
    certificates: page.map((certificate) => {
      const dns = context.store.dns.get(certificate.hostname)
      return summary(certificate, dns?.app === app.name && dns.via === "acme_challenge")
    }),
    next_cursor: next,
    total_count: matching.length,
  })
}

/** `POST …/certificates/acme`: adds the hostname and starts ACME; 201 with the pending detail. */
export const createAcmeCertificate = (context: ApiContext, request: ApiRequest): Reply => {
  const app = context.store.apps.get(request.params.app ?? "")
  if (!app) return appNotFound()
  const decoded = decodeBody(CreateAcmeRequest, request.body)
  if (Result.isFailure(decoded)) return decoded.failure
  const hostname = decoded.success.hostname.toLowerCase()
  if (!FQDN.test(hostname)) return failure(422, "Hostname is not a fully qualified domain name")
  const certificates = context.store.certificates.get(app.name) ?? new Map<string, CertificateRecord>()
  if (certificates.has(hostname)) return failure(422, "Hostname already exists on app")
  const at = new Date().toISOString().replace(/\.\d+Z$/, "Z")
  const certificate: CertificateRecord = {
    hostname,
    app: app.name,
    createdAt: at,
    updatedAt: at,
    status: "pending_validation",
    validationErrors: [],
    dnsConfigured: false,
  }
  certificates.set(hostname, certificate)
  context.store.certificates.set(app.name, certificates)
  context.store.changed()
  return ok(certificateDetail(context, app, certificate), 201)
}

const found = (context: ApiContext, request: ApiRequest) => {
  const app = context.store.apps.get(request.params.app ?? "")
  if (!app) return { reply: appNotFound() }
  const certificate = context.store.certificates.get(app.name)?.get((request.params.hostname ?? "").toLowerCase())
  return certificate === undefined ? { reply: certificateNotFound() } : { app, certificate }
}

export const getCertificate = (context: ApiContext, request: ApiRequest): Reply => {
  const lookup = found(context, request)
  return "reply" in lookup ? lookup.reply : ok(certificateDetail(context, lookup.app, lookup.certificate))
}

/** `POST …/certificates/{hostname}/check`: validates again (issuing when it passes); the detail plus `dns_records`. */
export const checkCertificate = (context: ApiContext, request: ApiRequest): Reply => {
  const lookup = found(context, request)
  if ("reply" in lookup) return lookup.reply
  if (validateCertificate(context.store, context.acmeFaults, lookup.certificate)) context.store.changed()
  return ok({
    ...certificateDetail(context, lookup.app, lookup.certificate),
    dns_records: dnsRecords(context, lookup.app, lookup.certificate),
  })
}

/** `DELETE …/certificates/{hostname}`: 204; the hostname and its certificates are gone. */
export const deleteCertificate = (context: ApiContext, request: ApiRequest): Reply => {
  const lookup = found(context, request)
  if ("reply" in lookup) return lookup.reply
  context.store.certificates.get(lookup.app.name)?.delete(lookup.certificate.hostname)
  context.store.changed()
  return noContent()
}
