// The certificate authority of the emulated Fly edge. Fly's edge terminates TLS with certificates Let's Encrypt
// issued for an App's hostnames (and `*.fly.dev` for `<app>.fly.dev`); the emulator issues its own from this CA, which
// lives as long as the emulator and which tests trust explicitly (GET /_emulator/ca, `caCertificate`).
// @peculiar/x509 resolves its signers through tsyringe, which needs the Reflect metadata API.
import "reflect-metadata"
import type { webcrypto } from "node:crypto"
import * as x509 from "@peculiar/x509"

export interface EdgeCertificate {
  readonly certPem: string
  readonly keyPem: string
}

export interface EdgeCa {
  /** The CA certificate (PEM) a client trusts to accept the edge's certificates. */
  readonly certificatePem: string
  /** A serving certificate for one name, signed by the CA; made once per name. */
  readonly issue: (name: string) => Promise<EdgeCertificate>
}

const algorithm = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const
// Backdated so that small clock differences between processes never make a certificate "not yet valid".
const notBefore = () => new Date(Date.now() - 60 * 60 * 1000)
const notAfter = () => new Date(Date.now() + 90 * 24 * 60 * 60 * 1000)

const generateKeys = () => crypto.subtle.generateKey(algorithm, true, ["sign", "verify"])

const privateKeyPem = async (key: webcrypto.CryptoKey) =>
  x509.PemConverter.encode(await crypto.subtle.exportKey("pkcs8", key), "PRIVATE KEY")

export const makeEdgeCa = async (): Promise<EdgeCa> => {
  const caKeys = await generateKeys()
  const caCert = await x509.X509CertificateGenerator.createSelfSigned({
    name: [{ CN: ["fly-emulator edge CA"] }],
    notBefore: notBefore(),
    notAfter: notAfter(),
    keys: caKeys,
    signingAlgorithm: algorithm,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  })
  const issued = new Map<string, Promise<EdgeCertificate>>()
  const make = async (name: string): Promise<EdgeCertificate> => {
    const keys = await generateKeys()
    const cert = await x509.X509CertificateGenerator.create({
      subject: [{ CN: [name] }],
      issuer: caCert.subject,
      notBefore: notBefore(),
      notAfter: notAfter(),
      publicKey: keys.publicKey,
      signingKey: caKeys.privateKey,
      signingAlgorithm: algorithm,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
        new x509.SubjectAlternativeNameExtension([{ type: "dns", value: name }]),
        await x509.AuthorityKeyIdentifierExtension.create(caKeys.publicKey),
      ],
    })
    return { certPem: cert.toString("pem"), keyPem: await privateKeyPem(keys.privateKey) }
  }
  return {
    certificatePem: caCert.toString("pem"),
    issue: (name) => {
      const known = issued.get(name)
      if (known !== undefined) return known
      const made = make(name)
      issued.set(name, made)
      return made
    },
  }
}
