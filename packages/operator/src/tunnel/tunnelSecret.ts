// The tunnel's Secret in the operator's namespace, and its only writer. It holds the frp token
// (random, created once; the single source of truth, which reaches Fly only as an app secret), the
// tunnel's certificates (frpc's, mounted into its Pods, and frps's, which reach Fly only as app
// secrets) and the frpc config of each Machine (which refers to the token, never contains it).
// Every write is one server-side apply of the whole content, so no writer can undo another's field.
import { createHash, randomBytes } from "node:crypto"
import type { V1Secret } from "@kubernetes/client-node"
import { Effect, Option } from "effect"
import { KubeClient, readFresh } from "../kube/kubeClient.ts"
import { sameJson } from "../kube/patches.ts"
import { Secret } from "../kube/resourceType.ts"
import type { TunnelTls } from "./tunnelCertificates.ts"
import { frpcObjectName, type TunnelIdentity, tunnelLabels } from "./tunnelNames.ts"
import { TunnelSettings } from "./tunnelSettings.ts"

/** Key of the token; frpc reads it as env, never from a file or a ConfigMap. */
export const TOKEN_KEY = "token"

/** Keys of the certificates: frpc mounts the first three; frps's pair is only ever sent to Fly. */
export const TlsKeys = {
  trust: "ca.crt",
  clientCert: "tls.crt",
  clientKey: "tls.key",
  serverCert: "frps.crt",
  serverKey: "frps.key",
} as const

/** Key of one Machine's frpc config (one per region). */
export const configKey = (region: string) => `frpc-${region}.toml`

export interface TunnelSecretContent {
  readonly token: string
  /** The certificates, once issued. */
  readonly tls?: TunnelTls
  /** frpc config text by region. */
  readonly configs: Readonly<Record<string, string>>
}

const decode = (value: string | undefined) => (value === undefined ? "" : Buffer.from(value, "base64").toString())

/** What the Secret holds now: the token (empty if missing or emptied) and the configs. */
export const secretContent = (secret: V1Secret): TunnelSecretContent => {
  const data = secret.data ?? {}
  const configs: Record<string, string> = {}
  for (const [key, value] of Object.entries(data)) {
    const region = /^frpc-(.+)\.toml$/.exec(key)?.[1]
    if (region !== undefined) configs[region] = decode(value)
  }
  const tls = {
    trustPem: decode(data[TlsKeys.trust]),
    server: { certPem: decode(data[TlsKeys.serverCert]), keyPem: decode(data[TlsKeys.serverKey]) },
    client: { certPem: decode(data[TlsKeys.clientCert]), keyPem: decode(data[TlsKeys.clientKey]) },
  }
  const complete = [tls.trustPem, tls.server.certPem, tls.server.keyPem, tls.client.certPem, tls.client.keyPem].every(
    (value) => value !== "",
  )
  return { token: decode(data[TOKEN_KEY]).trim(), ...(complete ? { tls } : {}), configs }
}

/**
 * A short digest of frps's pair, the part of the certificates that reaches Fly as app secrets (the CA bundle is in
 * the Machine config itself), for status and the Machine config hash.
 */
export const tlsDigest = (tls: TunnelTls): string =>
  createHash("sha256").update(tls.server.certPem).update(tls.server.keyPem).digest("hex").slice(0, 16)

/** A short digest of what frpc is given of the certificates (its pair and the trust bundle). */
export const clientTlsDigest = (tls: TunnelTls): string =>
  createHash("sha256")
    .update(tls.trustPem)
    .update(tls.client.certPem)
    .update(tls.client.keyPem)
    .digest("hex")
    .slice(0, 16)

/** A short digest of a token: enough to tell tokens apart in status, useless to anyone holding it. */
export const tokenDigest = (token: string): string => createHash("sha256").update(token).digest("hex").slice(0, 16)

export const newToken = (): string => randomBytes(32).toString("hex")

/**
 * The Secret as it is now, read fresh: Secrets are kept out of the shared cache, so tokens live
 * in the operator's memory only while a reconcile uses them.
 */
export const readTunnelSecret = Effect.fn("readTunnelSecret")(function* (tunnel: TunnelIdentity) {
  const settings = yield* TunnelSettings
  return yield* readFresh(Secret, frpcObjectName(tunnel), settings.operatorNamespace)
})

/** Makes the Secret hold exactly `content`; writes nothing when it already does. */
export const writeTunnelSecret = Effect.fn("writeTunnelSecret")(function* (
  tunnel: TunnelIdentity,
  current: Option.Option<V1Secret>,
  content: TunnelSecretContent,
) {
  if (Option.isSome(current) && sameJson(secretContent(current.value), content)) return current.value
  const kube = yield* KubeClient
  const settings = yield* TunnelSettings
  return yield* kube.apply(Secret, {
    metadata: {
      name: frpcObjectName(tunnel),
      namespace: settings.operatorNamespace,
      labels: { ...tunnelLabels(tunnel) },
    },
    type: "Opaque",
    data: {
      [TOKEN_KEY]: Buffer.from(content.token).toString("base64"),
      ...(content.tls === undefined
        ? {}
        : {
            [TlsKeys.trust]: Buffer.from(content.tls.trustPem).toString("base64"),
            [TlsKeys.clientCert]: Buffer.from(content.tls.client.certPem).toString("base64"),
            [TlsKeys.clientKey]: Buffer.from(content.tls.client.keyPem).toString("base64"),
            [TlsKeys.serverCert]: Buffer.from(content.tls.server.certPem).toString("base64"),
            [TlsKeys.serverKey]: Buffer.from(content.tls.server.keyPem).toString("base64"),
          }),
      ...Object.fromEntries(
        Object.entries(content.configs).map(([region, toml]) => [
          configKey(region),
          Buffer.from(toml).toString("base64"),
        ]),
      ),
    },
  })
})
