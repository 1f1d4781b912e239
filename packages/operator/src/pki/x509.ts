// Certificates for the tunnel's TLS between frpc and frps, made with @peculiar/x509 (WebCrypto) and read back with
// Node's own X509Certificate. ECDSA P-256 throughout: Go's crypto/tls (frp) and Node both take it, and keys are
// quick to make.
// @peculiar/x509 resolves its signers through tsyringe, which needs the Reflect metadata API.
import "reflect-metadata"
import { createPrivateKey, type webcrypto, X509Certificate } from "node:crypto"
import * as x509 from "@peculiar/x509"

const algorithm = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const

/** A PEM certificate and its PEM (PKCS#8) private key. */
export interface KeyPairPem {
  readonly certPem: string
  readonly keyPem: string
}

const generateKeys = () => crypto.subtle.generateKey(algorithm, true, ["sign", "verify"])

const privateKeyPem = async (key: webcrypto.CryptoKey) =>
  x509.PemConverter.encode(await crypto.subtle.exportKey("pkcs8", key), "PRIVATE KEY")

/** An ECDSA P-256 private key in any PEM form (PKCS#8, or SEC 1 as `openssl ecparam` writes it), for signing. */
const importPrivateKey = (pem: string) =>
  crypto.subtle.importKey(
    "pkcs8",
    createPrivateKey(pem).export({ type: "pkcs8", format: "der" }),
    { name: "ECDSA", namedCurve: "P-256" },
    false,
    ["sign"],
  )

const randomSerial = () =>
  Buffer.from(crypto.getRandomValues(new Uint8Array(16)))
    .toString("hex")
    .replace(/^[89a-f]/, "7")

/** A self-signed CA that may sign leaves only (path length 0). */
export const issueCertificateAuthority = async (
  commonName: string,
  notBefore: Date,
  notAfter: Date,
): Promise<KeyPairPem> => {
  const keys = await generateKeys()
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: [{ CN: [commonName] }],
    notBefore,
    notAfter,
    keys,
    signingAlgorithm: algorithm,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  })
  return { certPem: cert.toString("pem"), keyPem: await privateKeyPem(keys.privateKey) }
}

export interface LeafRequest {
  readonly commonName: string
  readonly usage: "server" | "client"
  readonly dnsNames: ReadonlyArray<string>
  readonly notBefore: Date
  readonly notAfter: Date
}

/** A leaf signed by `ca`: a server certificate (serverAuth, with its DNS names) or a client one (clientAuth). */
export const issueLeaf = async (ca: KeyPairPem, leaf: LeafRequest): Promise<KeyPairPem> => {
  const keys = await generateKeys()
  const caCert = new x509.X509Certificate(ca.certPem)
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: [{ CN: [leaf.commonName] }],
    issuer: caCert.subject,
    notBefore: leaf.notBefore,
    notAfter: leaf.notAfter,
    publicKey: keys.publicKey,
    signingKey: await importPrivateKey(ca.keyPem),
    signingAlgorithm: algorithm,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([
        leaf.usage === "server" ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth,
      ]),
      ...(leaf.dnsNames.length > 0
        ? [new x509.SubjectAlternativeNameExtension(leaf.dnsNames.map((value) => ({ type: "dns" as const, value })))]
        : []),
      await x509.AuthorityKeyIdentifierExtension.create(caCert),
    ],
  })
  return { certPem: cert.toString("pem"), keyPem: await privateKeyPem(keys.privateKey) }
}

/** Every certificate of a PEM bundle; undefined when any block does not parse. */
export const parseCertificates = (pem: string): ReadonlyArray<X509Certificate> | undefined => {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []
  try {
    return blocks.map((block) => new X509Certificate(block))
  } catch {
    return undefined
  }
}

/** Whether `keyPem` is an ECDSA P-256 key, the only kind this operator signs with. */
export const isP256Key = (keyPem: string): boolean => {
  try {
    const key = createPrivateKey(keyPem)
    return key.asymmetricKeyType === "ec" && key.asymmetricKeyDetails?.namedCurve === "prime256v1"
  } catch {
    return false
  }
}

/** Whether `keyPem` is the private key of `cert`. */
export const keyMatches = (cert: X509Certificate, keyPem: string): boolean => {
  try {
    return cert.checkPrivateKey(createPrivateKey(keyPem))
  } catch {
    return false
  }
}

/** A short, stable name of a certificate for status and messages: the start of its SHA-256 fingerprint. */
export const fingerprintOf = (cert: X509Certificate): string =>
  cert.fingerprint256.replaceAll(":", "").slice(0, 16).toLowerCase()
