// Why frpc cannot connect, when the cause is the certificate it is shown. frpc verifies frps against the tunnel's CA
// and name and refuses anything else, but only says so in its own log. When frpc runs yet its Machines' checks do not
// pass, the operator dials each control port itself, exactly as frpc does (same trust, same name, same client
// certificate), and reports a certificate that does not verify: something between the cluster and Fly terminates
// TLS. Nothing else is concluded from the dial (a refused or slow connection is frps starting, or Fly's checks
// lagging), and a converged tunnel is never dialled.
import { Reasons } from "@fly-tunnel-operator/api"
import { Effect } from "effect"
import type { TunnelMachine } from "./flyMachines.ts"
import { FrpsDialer } from "./frpsDialer.ts"
import { TunnelBlocked } from "./tunnelBlocked.ts"
import { frpsServerName, type TunnelTls } from "./tunnelCertificates.ts"
import type { TunnelIdentity } from "./tunnelNames.ts"

/**
 * Fails with `CertificateVerificationFailed` on ClientReady when a control port of a Machine whose checks do not pass
 * answers with a certificate frpc must refuse.
 */
export const checkFrpsCertificates = Effect.fn("checkFrpsCertificates")(function* (
  tunnel: TunnelIdentity,
  address: string,
  machines: ReadonlyArray<TunnelMachine>,
  tls: TunnelTls,
) {
  const dialer = yield* FrpsDialer
  const waiting = machines.filter(
    ({ machine }) => machine.state === "started" && (machine.checks ?? []).some((check) => check.status !== "passing"),
  )
  const failures = yield* Effect.forEach(
    waiting,
    ({ machine, controlPort }) =>
      dialer
        .handshake({
          host: address,
          port: controlPort,
          servername: frpsServerName(tunnel),
          ca: tls.trustPem,
          cert: tls.client.certPem,
          key: tls.client.keyPem,
        })
        .pipe(
          Effect.map((failure) =>
            failure === undefined ? [] : [`${address}:${controlPort} (Machine ${machine.id}): ${failure}`],
          ),
        ),
    { concurrency: "unbounded" },
  )
  const found = failures.flat()
  if (found.length === 0) return
  return yield* new TunnelBlocked({
    condition: "ClientReady",
    reason: Reasons.CertificateVerificationFailed,
    message: `certificate verification failed: frps's control port presented a certificate that is not the tunnel's (issued by the operator's CA for ${frpsServerName(tunnel)}), so frpc refuses to connect and nothing is carried; something between the cluster and Fly terminates TLS: ${found.join("; ")}`,
    retry: true,
  })
})
