// The operator's certificate authority: a Secret in the operator's namespace that issues every tunnel's frps and
// frpc certificates, so each end of a tunnel trusts only what this operator issued. Made on first use; never
// overwritten (an admin may have put their own CA there). Rotation is the admin's act (README "Rotating the
// operator's CA"): `trusted.crt` holds CA certificates trusted beside the signing one while tunnels move over.
import type { X509Certificate } from "node:crypto"
import type { V1Secret } from "@kubernetes/client-node"
import { Effect, Result, Schema } from "effect"
import { KubeClient } from "../kube/kubeClient.ts"
import { Secret } from "../kube/resourceType.ts"
import {
  fingerprintOf,
  isP256Key,
  issueCertificateAuthority,
  type KeyPairPem,
  keyMatches,
  parseCertificates,
} from "./x509.ts"

export const CA_SECRET_NAME = "fly-tunnel-operator-ca"

/** Keys of the CA Secret. */
export const CaSecretKeys = {
  /** The CA that signs tunnel certificates. */
  cert: "ca.crt",
  key: "ca.key",
  /** Optional: more CA certificates (PEM) both ends trust beside `ca.crt`, e.g. the next or the previous CA. */
  trusted: "trusted.crt",
} as const

const CA_LIFETIME_MS = 10 * 365 * 24 * 60 * 60 * 1000
/** Backdated, so that a clock a little behind ours does not find a certificate "not yet valid". */
export const BACKDATE_MS = 60 * 60 * 1000

/** The CA Secret exists but cannot sign: the operator does not replace it (it may be the admin's); it says why. */
export class CertificateAuthorityInvalid extends Schema.TaggedError<CertificateAuthorityInvalid>()(
  "CertificateAuthorityInvalid",
  { message: Schema.String },
) {}

export interface OperatorCa {
  readonly pair: KeyPairPem
  readonly cert: X509Certificate
  readonly fingerprint: string
  /** What both ends trust: the signing CA and every CA of `trusted.crt`, one PEM bundle. */
  readonly trustPem: string
  /** Fingerprints of the trusted CAs, in bundle order. */
  readonly trusted: ReadonlyArray<string>
}

const text = (secret: V1Secret, key: string) => {
  const value = secret.data?.[key]
  return value === undefined ? "" : Buffer.from(value, "base64").toString()
}

/** The CA in `secret`, or why it cannot be used. */
export const readOperatorCa = (secret: V1Secret, now: Date): Result.Result<OperatorCa, CertificateAuthorityInvalid> => {
  const where = `Secret ${secret.metadata?.namespace}/${secret.metadata?.name}`
  const invalid = (why: string) =>
    Result.fail(
      new CertificateAuthorityInvalid({
        message: `the operator's CA (${where}) ${why}; fix it or delete the Secret to have a new CA made (see README "Rotating the operator's CA")`,
      }),
    )
  const certPem = text(secret, CaSecretKeys.cert)
  const keyPem = text(secret, CaSecretKeys.key)
  const [cert, ...rest] = parseCertificates(certPem) ?? []
  if (cert === undefined || rest.length > 0) return invalid(`key ${CaSecretKeys.cert} is not one PEM certificate`)
  if (!cert.ca) return invalid(`key ${CaSecretKeys.cert} is not a CA certificate`)
  if (!keyMatches(cert, keyPem))
    return invalid(`key ${CaSecretKeys.key} is not the private key of ${CaSecretKeys.cert}`)
  if (!isP256Key(keyPem))
    return invalid(`key ${CaSecretKeys.key} is not an ECDSA P-256 key (the only kind it signs with)`)
  if (cert.validToDate.getTime() <= now.getTime()) return invalid(`has expired (${cert.validTo})`)
  const extra = parseCertificates(text(secret, CaSecretKeys.trusted))
  if (extra === undefined) return invalid(`key ${CaSecretKeys.trusted} is not a PEM bundle of certificates`)
  const bundle = [cert, ...extra.filter((other) => other.fingerprint256 !== cert.fingerprint256)]
  return Result.succeed({
    pair: { certPem: cert.toString(), keyPem },
    cert,
    fingerprint: fingerprintOf(cert),
    trustPem: bundle.map((member) => member.toString()).join(""),
    trusted: bundle.map(fingerprintOf),
  })
}

const newCaSecret = Effect.fn("newCaSecret")(function* (namespace: string, now: Date) {
  const pair = yield* Effect.promise(() =>
    issueCertificateAuthority(
      "fly-tunnel-operator CA",
      new Date(now.getTime() - BACKDATE_MS),
      new Date(now.getTime() + CA_LIFETIME_MS),
    ),
  )
  return {
    metadata: { name: CA_SECRET_NAME, namespace, labels: { "app.kubernetes.io/managed-by": "fly-tunnel-operator" } },
    type: "Opaque",
    data: {
      [CaSecretKeys.cert]: Buffer.from(pair.certPem).toString("base64"),
      [CaSecretKeys.key]: Buffer.from(pair.keyPem).toString("base64"),
    },
  } satisfies V1Secret
})

/**
 * The operator's CA, read fresh (Secrets stay out of the cache), made when the Secret does not exist. Two
 * replicas making it at once is harmless: the create that loses (409) reads the one that won.
 */
export const loadOperatorCa = Effect.fn("loadOperatorCa")(function* (namespace: string, now: Date) {
  const kube = yield* KubeClient
  const existing = yield* kube.get(Secret, CA_SECRET_NAME, namespace).pipe(
    Effect.catchTag("KubeNotFound", () =>
      newCaSecret(namespace, now).pipe(
        Effect.flatMap((secret) => kube.create(Secret, secret)),
        Effect.catchTag("KubeConflict", () => kube.get(Secret, CA_SECRET_NAME, namespace)),
      ),
    ),
  )
  const ca = readOperatorCa(existing, now)
  return Result.isFailure(ca) ? yield* ca.failure : ca.success
})
