import { createPrivateKey, generateKeyPairSync, X509Certificate } from "node:crypto"
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { CaSecretKeys, type OperatorCa, readOperatorCa } from "../src/pki/operatorCa.ts"
import { isP256Key, issueCertificateAuthority, issueLeaf, type KeyPairPem } from "../src/pki/x509.ts"
import { frpsServerName, renewalReason, type TunnelTls } from "../src/tunnel/tunnelCertificates.ts"

const DAY = 24 * 60 * 60 * 1000
const now = new Date("2026-06-01T00:00:00Z")
const tunnel = { namespace: "default", name: "web", uid: "0f5a2c7e-3b1d-4e8f-9a6b-1c2d3e4f5a6b" }

const caSecret = (pair: KeyPairPem, trusted = "") => ({
  metadata: { name: "fly-tunnel-operator-ca", namespace: "fto" },
  data: {
    [CaSecretKeys.cert]: Buffer.from(pair.certPem).toString("base64"),
    [CaSecretKeys.key]: Buffer.from(pair.keyPem).toString("base64"),
    ...(trusted === "" ? {} : { [CaSecretKeys.trusted]: Buffer.from(trusted).toString("base64") }),
  },
})

const makeCa = async (): Promise<OperatorCa> => {
  const pair = await issueCertificateAuthority(
    "test CA",
    new Date(now.getTime() - DAY),
    new Date(now.getTime() + 3650 * DAY),
  )
  const ca = readOperatorCa(caSecret(pair), now)
  if (Result.isFailure(ca)) throw new Error(ca.failure.message)
  return ca.success
}

/** The tunnel's two leaves, issued `ageDays` ago for 90 days. */
const leaves = async (ca: OperatorCa, ageDays: number, serverName = frpsServerName(tunnel)): Promise<TunnelTls> => {
  const validity = {
    notBefore: new Date(now.getTime() - ageDays * DAY),
    notAfter: new Date(now.getTime() + (90 - ageDays) * DAY),
  }
  return {
    trustPem: ca.trustPem,
    server: await issueLeaf(ca.pair, { commonName: "frps", usage: "server", dnsNames: [serverName], ...validity }),
    client: await issueLeaf(ca.pair, { commonName: "frpc", usage: "client", dnsNames: [], ...validity }),
  }
}

describe("tunnel certificates", () => {
  it("issues a server certificate for the tunnel's name and a client one, both from the CA", async () => {
    const ca = await makeCa()
    const tls = await leaves(ca, 0)
    const server = new X509Certificate(tls.server.certPem)
    const client = new X509Certificate(tls.client.certPem)
    expect(server.verify(ca.cert.publicKey)).toBe(true)
    expect(client.verify(ca.cert.publicKey)).toBe(true)
    expect(server.checkHost(frpsServerName(tunnel))).toBe(frpsServerName(tunnel))
    expect(server.keyUsage).toEqual(["1.3.6.1.5.5.7.3.1"])
    expect(client.keyUsage).toEqual(["1.3.6.1.5.5.7.3.2"])
    expect(ca.cert.ca).toBe(true)
    expect(server.ca).toBe(false)
  })

  it("keeps leaves until two thirds of their 90 days, then renews", async () => {
    const ca = await makeCa()
    expect(renewalReason(undefined, ca, tunnel, now)).toBe("it has none yet")
    expect(renewalReason(await leaves(ca, 0), ca, tunnel, now)).toBeUndefined()
    expect(renewalReason(await leaves(ca, 59), ca, tunnel, now)).toBeUndefined()
    expect(renewalReason(await leaves(ca, 61), ca, tunnel, now)).toBe("they are two thirds into their life")
  })

  it("renews leaves another CA issued, or issued for another tunnel, or whose key is not theirs", async () => {
    const ca = await makeCa()
    const other = await makeCa()
    expect(renewalReason(await leaves(other, 0), ca, tunnel, now)).toBe(
      `they were not issued by the current CA ${ca.fingerprint}`,
    )
    expect(renewalReason(await leaves(ca, 0, "someone-else.frps.fly-tunnel-operator.invalid"), ca, tunnel, now)).toBe(
      "frps's certificate names another tunnel",
    )
    const mine = await leaves(ca, 0)
    const theirs = await leaves(ca, 0)
    expect(renewalReason({ ...mine, client: { ...mine.client, keyPem: theirs.client.keyPem } }, ca, tunnel, now)).toBe(
      "a key does not match its certificate",
    )
  })

  it("reads the CA Secret, trusting extra CAs beside it, and names what is wrong with a broken one", async () => {
    const ca = await makeCa()
    const next = await makeCa()
    const rotating = readOperatorCa(caSecret(ca.pair, next.pair.certPem), now)
    expect(Result.isSuccess(rotating) && rotating.success.trusted).toEqual([ca.fingerprint, next.fingerprint])
    expect(Result.isSuccess(rotating) && rotating.success.trustPem).toBe(ca.pair.certPem + next.pair.certPem)
    const mismatched = readOperatorCa(caSecret({ certPem: ca.pair.certPem, keyPem: next.pair.keyPem }), now)
    expect(Result.isFailure(mismatched) && mismatched.failure.message).toContain(
      "key ca.key is not the private key of ca.crt",
    )
    const leaf = await leaves(ca, 0)
    const notCa = readOperatorCa(caSecret(leaf.server), now)
    expect(Result.isFailure(notCa) && notCa.failure.message).toContain("key ca.crt is not a CA certificate")
    const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 })
    const rsaKey = rsa.privateKey.export({ type: "pkcs8", format: "pem" }).toString()
    expect(isP256Key(rsaKey)).toBe(false)
    expect(isP256Key(ca.pair.keyPem)).toBe(true)
    // A SEC 1 key (as `openssl ecparam -genkey` writes it) signs as well as a PKCS#8 one.
    const sec1 = createPrivateKey(ca.pair.keyPem).export({ type: "sec1", format: "pem" }).toString()
    expect(sec1).toContain("BEGIN EC PRIVATE KEY")
    const signed = await issueLeaf(
      { certPem: ca.pair.certPem, keyPem: sec1 },
      {
        commonName: "frps",
        usage: "server",
        dnsNames: [frpsServerName(tunnel)],
        notBefore: now,
        notAfter: new Date(now.getTime() + DAY),
      },
    )
    expect(new X509Certificate(signed.certPem).verify(ca.cert.publicKey)).toBe(true)
    const garbage = readOperatorCa(caSecret({ certPem: "nope", keyPem: "nope" }), now)
    expect(Result.isFailure(garbage) && garbage.failure.message).toContain(
      "the operator's CA (Secret fto/fly-tunnel-operator-ca) key ca.crt is not one PEM certificate",
    )
  })
})
