import { Schema } from "effect"

const optional = Schema.optionalKey
const nullable = <S extends Schema.Top>(schema: S) => optional(Schema.NullOr(schema))

/** `dns_requirements` of a certificate: the records Fly asks for, any one validation path of which suffices. */
export const DnsRequirements = Schema.Struct({
  a: optional(Schema.Array(Schema.String)),
  aaaa: optional(Schema.Array(Schema.String)),
  cname: nullable(Schema.String),
  acme_challenge: nullable(Schema.Struct({ name: Schema.String, target: Schema.String })),
  ownership: nullable(
    Schema.Struct({ name: Schema.String, app_value: optional(Schema.String), org_value: optional(Schema.String) }),
  ),
})
export type DnsRequirements = typeof DnsRequirements.Type

export const ValidationError = Schema.Struct({
  code: Schema.String,
  message: Schema.String,
  remediation: nullable(Schema.String),
  timestamp: nullable(Schema.String),
})
export type ValidationError = typeof ValidationError.Type

/**
 * `CertificateDetail` (the 201 of an ACME create, GET, and with `dns_records` the answer of `check`). `status` is
 * `pending_validation` until Fly has validated the hostname's DNS and issued, then `active`.
 */
export const CertificateDetail = Schema.Struct({
  hostname: Schema.String,
  status: Schema.String,
  configured: optional(Schema.Boolean),
  acme_requested: optional(Schema.Boolean),
  rate_limited_until: nullable(Schema.String),
  dns_requirements: nullable(DnsRequirements),
  validation_errors: nullable(Schema.Array(ValidationError)),
})
export type CertificateDetail = typeof CertificateDetail.Type

/** One entry of `GET /v1/apps/{app}/certificates`. */
export const CertificateSummary = Schema.Struct({
  hostname: Schema.String,
  status: optional(Schema.String),
  configured: optional(Schema.Boolean),
  acme_requested: optional(Schema.Boolean),
})
export type CertificateSummary = typeof CertificateSummary.Type

export const ListCertificatesResponse = Schema.Struct({
  certificates: Schema.Array(CertificateSummary),
  next_cursor: nullable(Schema.String),
  total_count: nullable(Schema.Number),
})

export const CreateAcmeCertificateRequest = Schema.Struct({ hostname: Schema.String })
