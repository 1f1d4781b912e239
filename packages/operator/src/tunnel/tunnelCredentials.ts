import { Reasons } from "@fly-tunnel-operator/api"
import { DateTime, Effect, Option } from "effect"
import { TunnelBlocked } from "./tunnelBlocked.ts"
import { certificateSummary, ensureTunnelCertificates } from "./tunnelCertificates.ts"
import type { TunnelIdentity } from "./tunnelNames.ts"
import { newToken, readTunnelSecret, secretContent, writeTunnelSecret } from "./tunnelSecret.ts"
import { TunnelSettings } from "./tunnelSettings.ts"

/**
 * What both ends of the tunnel hold, from the tunnel's Secret, made whole before Fly or frpc see any of it: the token
 * (kept while the Secret holds one; a missing or emptied one is replaced) and the certificates (kept while they stand,
 * see tunnelCertificates.ts). What changed is stored first, in one write; an unchanged Secret is not written.
 */
export const ensureTunnelCredentials = Effect.fn("ensureTunnelCredentials")(function* (tunnel: TunnelIdentity) {
  const settings = yield* TunnelSettings
  const secret = yield* readTunnelSecret(tunnel)
  const current = Option.map(secret, secretContent)
  const stored = Option.match(current, { onNone: () => "", onSome: (content) => content.token })
  const token = stored === "" ? newToken() : stored
  const now = DateTime.toDateUtc(yield* DateTime.now)
  const { tls, ca } = yield* ensureTunnelCertificates(
    tunnel,
    Option.getOrUndefined(current)?.tls,
    settings.operatorNamespace,
    now,
  ).pipe(
    Effect.catchTag("CertificateAuthorityInvalid", (invalid) =>
      Effect.fail(
        new TunnelBlocked({
          condition: "Ready",
          reason: Reasons.CertificateAuthorityInvalid,
          message: invalid.message,
          retry: true,
        }),
      ),
    ),
  )
  const configs = Option.match(current, { onNone: () => ({}), onSome: (content) => content.configs })
  const written = yield* writeTunnelSecret(tunnel, secret, { token, tls, configs })
  return { token, tls, secret: Option.some(written), tlsStatus: certificateSummary(tls, ca) }
})
