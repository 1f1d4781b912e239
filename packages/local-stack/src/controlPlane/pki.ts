// @peculiar/x509 resolves its signers through tsyringe, which needs the Reflect metadata API.
import "reflect-metadata"
import type { webcrypto } from "node:crypto"
import * as x509 from "@peculiar/x509"

/** A PEM certificate and its PEM (PKCS#8) private key. */
export interface KeyPairPem {
  readonly certPem: string
  readonly keyPem: string
}

/** The throwaway certificates and keys of one local control plane. */
export interface Pki {
  readonly ca: KeyPairPem
  readonly apiserver: KeyPairPem
  readonly admin: KeyPairPem
  readonly controllerManager: KeyPairPem
  readonly scheduler: KeyPairPem
  /** Signs and verifies ServiceAccount tokens. */
  readonly serviceAccount: { readonly publicKeyPem: string; readonly privateKeyPem: string }
}

export interface PkiOptions {
  /** IP addresses the apiserver serving certificate is valid for, besides 127.0.0.1. */
  readonly apiserverIps: ReadonlyArray<string>
}

const algorithm = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const
// Backdated so that small clock differences between processes never make a certificate "not yet valid".
const notBefore = () => new Date(Date.now() - 60 * 60 * 1000)
const notAfter = () => new Date(Date.now() + 7 * 24 * 60 * 60 * 1000)

const generateKeys = () => crypto.subtle.generateKey(algorithm, true, ["sign", "verify"])

const privateKeyPem = async (key: webcrypto.CryptoKey) =>
  x509.PemConverter.encode(await crypto.subtle.exportKey("pkcs8", key), "PRIVATE KEY")

const publicKeyPem = async (key: webcrypto.CryptoKey) =>
  x509.PemConverter.encode(await crypto.subtle.exportKey("spki", key), "PUBLIC KEY")

interface Leaf {
  readonly subject: x509.JsonName
  readonly usage: "server" | "client"
  readonly dnsNames?: ReadonlyArray<string>
  readonly ips?: ReadonlyArray<string>
}

const issueLeaf = async (
  ca: { cert: x509.X509Certificate; keys: webcrypto.CryptoKeyPair },
  leaf: Leaf,
): Promise<KeyPairPem> => {
  const keys = await generateKeys()
  const altNames = [
    ...(leaf.dnsNames ?? []).map((value) => ({ type: "dns" as const, value })),
    ...(leaf.ips ?? []).map((value) => ({ type: "ip" as const, value })),
  ]
  const cert = await x509.X509CertificateGenerator.create({
    subject: leaf.subject,
    issuer: ca.cert.subject,
    notBefore: notBefore(),
    notAfter: notAfter(),
    publicKey: keys.publicKey,
    signingKey: ca.keys.privateKey,
    signingAlgorithm: algorithm,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension([
        leaf.usage === "server" ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth,
      ]),
      ...(altNames.length > 0 ? [new x509.SubjectAlternativeNameExtension(altNames)] : []),
      await x509.AuthorityKeyIdentifierExtension.create(ca.keys.publicKey),
    ],
  })
  return { certPem: cert.toString("pem"), keyPem: await privateKeyPem(keys.privateKey) }
}

/** Makes a cluster CA and the serving, client and ServiceAccount keys a local control plane needs. */
export const makePki = async (options: PkiOptions): Promise<Pki> => {
  const caKeys = await generateKeys()
  const caCert = await x509.X509CertificateGenerator.createSelfSigned({
    name: [{ CN: ["fly-tunnel-operator-testkit-ca"] }],
    notBefore: notBefore(),
    notAfter: notAfter(),
    keys: caKeys,
    signingAlgorithm: algorithm,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  })
  const ca = { cert: caCert, keys: caKeys }
  const serviceAccountKeys = await generateKeys()
  const [apiserver, admin, controllerManager, scheduler] = await Promise.all([
    issueLeaf(ca, {
      subject: [{ CN: ["kube-apiserver"] }],
      usage: "server",
      dnsNames: ["localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"],
      ips: ["127.0.0.1", ...options.apiserverIps],
    }),
    issueLeaf(ca, { subject: [{ CN: ["admin"] }, { O: ["system:masters"] }], usage: "client" }),
    issueLeaf(ca, { subject: [{ CN: ["system:kube-controller-manager"] }], usage: "client" }),
    issueLeaf(ca, { subject: [{ CN: ["system:kube-scheduler"] }], usage: "client" }),
  ])
  return {
    ca: { certPem: caCert.toString("pem"), keyPem: await privateKeyPem(caKeys.privateKey) },
    apiserver,
    admin,
    controllerManager,
    scheduler,
    serviceAccount: {
      publicKeyPem: await publicKeyPem(serviceAccountKeys.publicKey),
      privateKeyPem: await privateKeyPem(serviceAccountKeys.privateKey),
    },
  }
}
