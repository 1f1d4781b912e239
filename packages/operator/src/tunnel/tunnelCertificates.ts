// Each tunnel's two certificates, issued by the operator's CA: frps's server certificate (its name is the tunnel's,
// so a certificate of another tunnel does not pass) and frpc's client certificate (frps requires one from the same
// CA, so a leaked token alone cannot register proxies). 90-day leaves, renewed at two thirds of their life, or at
// once when they were not issued by the current CA. A renewal changes what frps reads at start, so it is the one
// time a converged tunnel's Machines restart; the address stays.
import type { X509Certificate } from "node:crypto"
import { Effect } from "effect"
import { BACKDATE_MS, loadOperatorCa, type OperatorCa } from "../pki/operatorCa.ts"
import { issueLeaf, type KeyPairPem, keyMatches, parseCertificates } from "../pki/x509.ts"
import type { TunnelIdentity } from "./tunnelNames.ts"

export const LEAF_LIFETIME_MS = 90 * 24 * 60 * 60 * 1000
/** The share of a leaf's life after which it is renewed. */
export const RENEW_AT = 2 / 3

/** What a tunnel's two ends hold: the trust bundle, frps's server pair and frpc's client pair. */
export interface TunnelTls {
  readonly trustPem: string
  readonly server: KeyPairPem
  readonly client: KeyPairPem
}

/** The name frpc expects in frps's certificate (`transport.tls.serverName`): the tunnel's own, never resolved. */
export const frpsServerName = (tunnel: TunnelIdentity): string => `${tunnel.uid}.frps.fly-tunnel-operator.invalid`

/** When a certificate is due for renewal: two thirds into its life. */
export const renewAfter = (cert: X509Certificate): Date => {
  const from = cert.validFromDate.getTime()
  return new Date(from + (cert.validToDate.getTime() - from) * RENEW_AT)
}

/** Why the tunnel needs new certificates now, or undefined when the ones it has stand. */
export const renewalReason = (
  tls: TunnelTls | undefined,
  ca: OperatorCa,
  tunnel: TunnelIdentity,
  now: Date,
): string | undefined => {
  if (tls === undefined) return "it has none yet"
  const [server] = parseCertificates(tls.server.certPem) ?? []
  const [client] = parseCertificates(tls.client.certPem) ?? []
  if (server === undefined || client === undefined) return "its certificates do not parse"
  if (!keyMatches(server, tls.server.keyPem) || !keyMatches(client, tls.client.keyPem))
    return "a key does not match its certificate"
  if (!server.verify(ca.cert.publicKey) || !client.verify(ca.cert.publicKey))
    return `they were not issued by the current CA ${ca.fingerprint}`
  if (server.checkHost(frpsServerName(tunnel)) === undefined) return "frps's certificate names another tunnel"
  if ([server, client].some((cert) => renewAfter(cert).getTime() <= now.getTime()))
    return "they are two thirds into their life"
  return undefined
}

/** The tunnel's certificates: the ones it has while they stand (with today's trust bundle), else new ones. */
export const ensureTunnelCertificates = Effect.fn("ensureTunnelCertificates")(function* (
  tunnel: TunnelIdentity,
  current: TunnelTls | undefined,
  operatorNamespace: string,
  now: Date,
) {
  const ca = yield* loadOperatorCa(operatorNamespace, now)
  const reason = renewalReason(current, ca, tunnel, now)
  if (current !== undefined && reason === undefined) return { tls: { ...current, trustPem: ca.trustPem }, ca }
  const validity = {
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter: new Date(now.getTime() + LEAF_LIFETIME_MS),
  }
  const [server, client] = yield* Effect.promise(() =>
    Promise.all([
      issueLeaf(ca.pair, {
        commonName: `frps ${tunnel.namespace}/${tunnel.name}`,
        usage: "server",
        dnsNames: [frpsServerName(tunnel)],
        ...validity,
      }),
      issueLeaf(ca.pair, {
        commonName: `frpc ${tunnel.namespace}/${tunnel.name}`,
        usage: "client",
        dnsNames: [],
        ...validity,
      }),
    ]),
  )
  yield* Effect.logInfo("issued tunnel certificates", { tunnel: `${tunnel.namespace}/${tunnel.name}`, because: reason })
  return { tls: { trustPem: ca.trustPem, server, client } satisfies TunnelTls, ca }
})

/** What status shows of the certificates: who issued them, who is trusted, and when they are renewed. */
export const certificateSummary = (tls: TunnelTls, ca: OperatorCa) => {
  const [server] = parseCertificates(tls.server.certPem) ?? []
  return {
    issuer: ca.fingerprint,
    trusted: ca.trusted,
    ...(server === undefined
      ? {}
      : {
          notAfter: server.validToDate.toISOString().replace(/\.\d{3}Z$/, "Z"),
          renewAfter: renewAfter(server)
            .toISOString()
            .replace(/\.\d{3}Z$/, "Z"),
        }),
  }
}
