// A fault of the network, not of Fly: a man in the middle on the path from a client to an App's public port, which
// terminates TLS with a certificate of its own and speaks TLS onwards to the Machine (as a corporate TLS-inspecting
// proxy does). Fly's proxy never does this for a port without handlers; tests switch it on to prove that a client
// that verifies the server refuses such a path, and that nothing reaches the backend.
// @peculiar/x509 resolves its signers through tsyringe, which needs the Reflect metadata API.
import "reflect-metadata"
import type { Socket } from "node:net"
import * as tls from "node:tls"
import * as x509 from "@peculiar/x509"

export interface InterceptorCredentials {
  readonly certPem: string
  readonly keyPem: string
}

const algorithm = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const

/** The interceptor's own certificate: self-signed, for any name a client asks for. */
export const makeInterceptorCredentials = async (): Promise<InterceptorCredentials> => {
  const keys = await crypto.subtle.generateKey(algorithm, true, ["sign", "verify"])
  const now = Date.now()
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: "01",
    name: [{ CN: ["intercepting proxy"] }],
    notBefore: new Date(now - 60 * 60 * 1000),
    notAfter: new Date(now + 365 * 24 * 60 * 60 * 1000),
    keys,
    signingAlgorithm: algorithm,
    extensions: [new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth])],
  })
  const key = await crypto.subtle.exportKey("pkcs8", keys.privateKey)
  return { certPem: cert.toString("pem"), keyPem: x509.PemConverter.encode(key, "PRIVATE KEY") }
}

/**
 * Terminates the client's TLS with `credentials` and relays the plaintext over a TLS connection of its own to
 * `upstream` (which it does not verify, and to which it presents no client certificate). Returns the sockets so the
 * caller can close them.
 */
export const interceptTls = (
  client: Socket,
  upstream: { readonly host: string; readonly port: number },
  credentials: InterceptorCredentials,
) => {
  const inbound = new tls.TLSSocket(client, { isServer: true, cert: credentials.certPem, key: credentials.keyPem })
  const outbound = tls.connect({ host: upstream.host, port: upstream.port, rejectUnauthorized: false })
  inbound.on("error", () => {
    inbound.destroy()
    outbound.destroy()
  })
  outbound.on("error", () => {
    outbound.destroy()
    inbound.destroy()
  })
  inbound.on("close", () => outbound.destroy())
  outbound.on("close", () => inbound.destroy())
  inbound.pipe(outbound).pipe(inbound)
  return [inbound, outbound] as const
}
