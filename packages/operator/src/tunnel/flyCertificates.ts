import type { CertificateStatus, FlyTunnelStatus } from "@fly-tunnel-operator/api"
import {
  type App,
  type CertificateDetail,
  type CertificateSummary,
  FlyClient,
  type FlyError,
} from "@fly-tunnel-operator/fly"
import { Effect } from "effect"
import { blockedByFly } from "./tunnelBlocked.ts"

/** `<app>.fly.dev`: the name Fly gives every App, served by its edge with Fly's own certificate. */
export const flyHostname = (app: Pick<App, "name">): string => `${app.name}.fly.dev`

/** The hostnames the tunnel manages on its App: the ones its spec listed, as its status records them. */
export const recordedHostnames = (status: FlyTunnelStatus | undefined): ReadonlyArray<string> =>
  (status?.certificates ?? []).map((certificate) => certificate.hostname)

/** Fly's answer to a hostname the App already has (Fly: "Hostname already exists on app"). */
const alreadyExists = (error: FlyError): boolean =>
  error._tag === "FlyInvalid" && error.status === 422 && /already exists/i.test(error.message)

/**
 * The App's certificates in step with the spec's hostnames: one ACME certificate per hostname, found by listing
 * before any create. A hostname is its own key — Fly refuses a second certificate for it — so a create whose answer
 * was lost is found by the next list and never doubled. A hostname listed in the spec is the tunnel's to manage (its
 * status records it): taking it off the list removes its certificate, even one that was on the App before it was
 * listed. A certificate for a hostname the spec never listed is never touched. A certificate not yet issued is
 * checked (Fly validates its DNS again and issues once it passes); an issued one costs no call.
 * `known` is what the caller already knows the App holds (nothing, for an App it just created), saving the list.
 */
export const ensureCertificates = Effect.fn("ensureCertificates")(function* (
  app: App,
  wanted: { readonly hostnames: ReadonlyArray<string>; readonly recorded: ReadonlyArray<string> },
  known?: ReadonlyArray<CertificateSummary>,
) {
  const fly = yield* FlyClient
  const listed = known ?? (yield* fly.listCertificates(app.name))
  const onFly = new Map(listed.map((certificate) => [certificate.hostname, certificate]))
  const dropped = wanted.recorded.filter((hostname) => !wanted.hostnames.includes(hostname) && onFly.has(hostname))
  yield* Effect.forEach(
    dropped,
    (hostname) => fly.deleteCertificate(app.name, hostname).pipe(Effect.catchTag("FlyNotFound", () => Effect.void)),
    { discard: true },
  )
  return yield* Effect.forEach(
    wanted.hostnames,
    Effect.fnUntraced(function* (hostname): Effect.fn.Return<CertificateDetail, FlyError, FlyClient> {
      const summary = onFly.get(hostname)
      if (summary === undefined) {
        return yield* fly
          .createAcmeCertificate(app.name, hostname)
          .pipe(Effect.catchIf(alreadyExists, () => fly.getCertificate(app.name, hostname)))
      }
      if (summary.status === "active") return { hostname, status: "active" }
      return yield* fly.checkCertificate(app.name, hostname)
    }),
  )
}, blockedByFly("CertificatesReady"))

/** A certificate as the FlyTunnel's status shows it: Fly's state and, until issued, the DNS records it waits for. */
export const certificateStatus = (detail: CertificateDetail): CertificateStatus => {
  const requirements = detail.dns_requirements
  const errors = detail.validation_errors ?? []
  const active = detail.status === "active"
  return {
    hostname: detail.hostname,
    status: detail.status,
    ...(active || requirements === undefined || requirements === null
      ? {}
      : {
          dnsRequirements: {
            ...(requirements.a === undefined ? {} : { a: [...requirements.a] }),
            ...(requirements.aaaa === undefined ? {} : { aaaa: [...requirements.aaaa] }),
            ...(requirements.cname === undefined || requirements.cname === null ? {} : { cname: requirements.cname }),
            ...(requirements.acme_challenge === undefined || requirements.acme_challenge === null
              ? {}
              : { acmeChallenge: { ...requirements.acme_challenge } }),
            ...(requirements.ownership?.app_value === undefined
              ? {}
              : { ownership: { name: requirements.ownership.name, value: requirements.ownership.app_value } }),
          },
        }),
    ...(active || errors.length === 0
      ? {}
      : {
          validationErrors: errors.map((error) => ({
            code: error.code,
            message: error.message,
            ...(error.remediation === undefined || error.remediation === null || error.remediation === ""
              ? {}
              : { remediation: error.remediation }),
          })),
        }),
    ...(active || detail.rate_limited_until === undefined || detail.rate_limited_until === null
      ? {}
      : { rateLimitedUntil: detail.rate_limited_until }),
  }
}
