import { X509Certificate } from "node:crypto"
import type { FlyTunnelStatus } from "@fly-tunnel-operator/api"
import type { V1Secret } from "@kubernetes/client-node"
import { Effect } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { FieldManager, KubeClient } from "../src/kube/kubeClient.ts"
import { Deployment, FlyTunnel, Secret } from "../src/kube/resourceType.ts"
import { CA_SECRET_NAME, CaSecretKeys } from "../src/pki/operatorCa.ts"
import { fingerprintOf, issueCertificateAuthority, issueLeaf, type KeyPairPem } from "../src/pki/x509.ts"
import { frpsServerName } from "../src/tunnel/tunnelCertificates.ts"
import { type FastOperator, OPERATOR_NAMESPACE, startFastOperator, until } from "./support/fastHarness.ts"

const DAY = 24 * 60 * 60 * 1000
const MUTATING = (call: { method: string }) => call.method !== "GET"
const decode = (value: string | undefined) => Buffer.from(value ?? "", "base64").toString()
const encode = (text: string) => Buffer.from(text).toString("base64")

describe("the tunnel's certificates (in-memory API server, in-process Fly emulator)", () => {
  let operator: FastOperator | undefined
  afterEach(async () => {
    await operator?.close()
    operator = undefined
  })

  const start = async () => {
    operator = await startFastOperator({ resync: "200 millis" })
    operator.startControllers()
    return operator
  }
  const asUser = <A, E>(target: FastOperator, use: (kube: KubeClient["Service"]) => Effect.Effect<A, E>) =>
    target.run(KubeClient.use(use).pipe(Effect.provideService(FieldManager, "test")))
  const secret = (target: FastOperator, name: string): V1Secret | undefined =>
    target.kube.objects(Secret, OPERATOR_NAMESPACE).find((item) => item.metadata?.name === name)
  const tunnelOf = (target: FastOperator, name: string) =>
    target.kube.objects(FlyTunnel, "default").find((item) => item.metadata?.name === name)
  const ready = (target: FastOperator, name: string) =>
    until(`${name} Ready`, () => {
      const found = tunnelOf(target, name)
      return found?.status?.conditions?.find((c) => c.type === "Ready")?.status === "True" ? found : undefined
    })
  const createTunnel = (target: FastOperator, name: string, regions: ReadonlyArray<string> = ["ord"]) =>
    asUser(target, (kube) =>
      kube.create(FlyTunnel, {
        apiVersion: "fly-tunnel-operator.dev/v1alpha1",
        kind: "FlyTunnel",
        metadata: { name, namespace: "default" },
        spec: { target: { address: { host: "192.168.1.20" } }, ports: [{ name: "http", port: 8080 }], regions },
      }),
    )
  const shownSecrets = async (target: FastOperator) => {
    const response = await fetch(`${target.emulator.baseUrl}/_emulator/state?show_secrets=true`, {
      headers: { authorization: `Bearer ${target.emulator.token}` },
    })
    const state = (await response.json()) as { secrets: Array<{ app: string; name: string; value?: string }> }
    return state.secrets
  }
  /** Mutating Fly calls after `before`, by action. */
  const mutationsSince = async (target: FastOperator, before: number) => {
    const counts: Record<string, number> = {}
    for (const call of (await target.emulator.state()).calls.slice(before).filter(MUTATING))
      counts[call.action] = (counts[call.action] ?? 0) + 1
    return counts
  }
  const quietFor = async (target: FastOperator, ms: number) => {
    const before = (await target.emulator.state()).calls.length
    await new Promise((resolve) => setTimeout(resolve, ms))
    return mutationsSince(target, before)
  }
  /** Replaces the tunnel's certificates in its Secret, as an aged or foreign pair would be. */
  const putLeaves = (target: FastOperator, secretName: string, leaves: { server: KeyPairPem; client: KeyPairPem }) =>
    asUser(target, (kube) =>
      kube.mergePatch(Secret, secretName, OPERATOR_NAMESPACE, {
        data: {
          "frps.crt": encode(leaves.server.certPem),
          "frps.key": encode(leaves.server.keyPem),
          "tls.crt": encode(leaves.client.certPem),
          "tls.key": encode(leaves.client.keyPem),
        },
      }),
    )
  const caPair = (target: FastOperator): KeyPairPem => {
    const ca = secret(target, CA_SECRET_NAME)
    return { certPem: decode(ca?.data?.[CaSecretKeys.cert]), keyPem: decode(ca?.data?.[CaSecretKeys.key]) }
  }
  const agedLeaves = async (ca: KeyPairPem, uid: string, ageDays: number) => {
    const now = Date.now()
    const validity = { notBefore: new Date(now - ageDays * DAY), notAfter: new Date(now + (90 - ageDays) * DAY) }
    const name = frpsServerName({ namespace: "default", name: "web", uid })
    return {
      server: await issueLeaf(ca, { commonName: "frps", usage: "server", dnsNames: [name], ...validity }),
      client: await issueLeaf(ca, { commonName: "frpc", usage: "client", dnsNames: [], ...validity }),
    }
  }

  it("makes one CA, issues the tunnel's pair of certificates and gives frps its own only through Fly secrets", async () => {
    const target = await start()
    await createTunnel(target, "web")
    const tunnel = await ready(target, "web")
    const uid = tunnel.metadata?.uid ?? ""
    const ca = new X509Certificate(caPair(target).certPem)
    expect(ca.ca).toBe(true)
    expect(target.kube.calls().filter((call) => call.kind === "Secret" && call.verb === "create")).toHaveLength(1)

    const stored = secret(target, `frpc-${uid}`)?.data ?? {}
    expect(Object.keys(stored).sort()).toEqual([
      "ca.crt",
      "frpc-ord.toml",
      "frps.crt",
      "frps.key",
      "tls.crt",
      "tls.key",
      "token",
    ])
    const server = new X509Certificate(decode(stored["frps.crt"]))
    expect(server.verify(ca.publicKey)).toBe(true)
    expect(server.checkHost(`${uid}.frps.fly-tunnel-operator.invalid`)).toBeDefined()
    expect(new X509Certificate(decode(stored["tls.crt"])).verify(ca.publicKey)).toBe(true)

    // frpc verifies frps by the CA and the tunnel's name, and presents its own certificate, mounted from the Secret.
    const frpc = decode(stored["frpc-ord.toml"])
    expect(frpc).toContain('trustedCaFile = "{{ .Envs.FRPC_TLS_DIR }}/ca.crt"')
    expect(frpc).toContain(`serverName = "${uid}.frps.fly-tunnel-operator.invalid"`)
    expect(frpc).toContain('certFile = "{{ .Envs.FRPC_TLS_DIR }}/tls.crt"')
    expect(frpc).toContain('keyFile = "{{ .Envs.FRPC_TLS_DIR }}/tls.key"')
    const deployment = target.kube.objects(Deployment, OPERATOR_NAMESPACE)[0]
    // The directory is the tls volume's mount path, given to frpc as FRPC_TLS_DIR.
    const container = deployment?.spec?.template.spec?.containers[0]
    expect(container?.env).toContainEqual({ name: "FRPC_TLS_DIR", value: "/etc/frp/tls" })
    expect(container?.volumeMounts).toContainEqual({ name: "tls", mountPath: "/etc/frp/tls", readOnly: true })
    const volume = deployment?.spec?.template.spec?.volumes?.find((item) => item.name === "tls")
    expect(volume?.secret?.items?.map((item) => item.key)).toEqual(["ca.crt", "tls.crt", "tls.key"])

    // frps's pair reaches Fly as app secrets (base64, as files need), never in the Machine config.
    const app = tunnel.status?.app?.name ?? ""
    const secrets = (await shownSecrets(target)).filter((item) => item.app === app)
    expect(secrets.map((item) => item.name).sort()).toEqual([
      "FRPS_TLS_CERT",
      "FRPS_TLS_KEY",
      "FRP_TOKEN",
      expect.stringMatching(/^FTO_CLUSTER_/),
    ])
    expect(decode(secrets.find((item) => item.name === "FRPS_TLS_CERT")?.value)).toBe(decode(stored["frps.crt"]))
    const machine = (await target.emulator.state()).machines.find((item) => item.app === app)
    expect(JSON.stringify(machine?.config)).not.toContain(stored["frps.key"])
    expect(machine?.config.files).toEqual(
      expect.arrayContaining([
        { guest_path: "/etc/frp/tls/frps.crt", secret_name: "FRPS_TLS_CERT" },
        { guest_path: "/etc/frp/tls/frps.key", secret_name: "FRPS_TLS_KEY" },
        { guest_path: "/etc/frp/tls/ca.crt", raw_value: stored["ca.crt"] },
      ]),
    )
    const status: FlyTunnelStatus["tls"] = tunnel.status?.tls
    expect(status).toMatchObject({ issuer: fingerprintOf(ca), trusted: [fingerprintOf(ca)] })
    expect(Date.parse(status?.renewAfter ?? "") - Date.now()).toBeGreaterThan(59 * DAY)

    // Converged: nothing more, however often it resyncs.
    expect(await quietFor(target, 600)).toEqual({})
  })

  it("renews at two thirds of the leaves' life: one push, one restart per Machine, the same address", async () => {
    const target = await start()
    await createTunnel(target, "web", ["ord", "ams"])
    const tunnel = await ready(target, "web")
    const uid = tunnel.metadata?.uid ?? ""
    const address = tunnel.status?.addresses
    const checksum = () =>
      target.kube
        .objects(Deployment, OPERATOR_NAMESPACE)
        .map((item) => item.spec?.template.metadata?.annotations?.["fly-tunnel-operator.dev/config-checksum"])
    const rolled = checksum()

    // 59 days old: kept.
    await putLeaves(target, `frpc-${uid}`, await agedLeaves(caPair(target), uid, 59))
    await until("the young leaves pushed", async () => {
      const digest = (await ready(target, "web")).status?.app?.tlsDigest
      return digest !== tunnel.status?.app?.tlsDigest ? digest : undefined
    })
    const young = secret(target, `frpc-${uid}`)?.data?.["frps.crt"]
    expect(await quietFor(target, 600)).toEqual({})
    expect(secret(target, `frpc-${uid}`)?.data?.["frps.crt"]).toBe(young)

    // 61 days old: renewed once.
    await putLeaves(target, `frpc-${uid}`, await agedLeaves(caPair(target), uid, 61))
    const before = (await target.emulator.state()).calls.length
    const renewed = await until("renewed leaves", () => {
      const current = secret(target, `frpc-${uid}`)?.data?.["frps.crt"]
      const cert = current === undefined ? undefined : new X509Certificate(decode(current))
      return cert !== undefined && cert.validToDate.getTime() - Date.now() > 89 * DAY ? cert : undefined
    })
    await until("Ready with the renewed certificate", () => {
      const status = tunnelOf(target, "web")?.status
      return status?.tls?.notAfter === renewed.validToDate.toISOString().replace(/\.\d{3}Z$/, "Z") &&
        status.conditions?.find((c) => c.type === "Ready")?.status === "True"
        ? true
        : undefined
    })
    await new Promise((resolve) => setTimeout(resolve, 600))
    expect(await mutationsSince(target, before)).toEqual({ setSecrets: 1, updateMachine: 2 })
    expect(tunnelOf(target, "web")?.status?.addresses).toEqual(address)
    expect(checksum()).not.toEqual(rolled)
  })

  it("rotates the CA in the documented steps: trust the new one beside, switch, drop the old", async () => {
    const target = await start()
    await createTunnel(target, "web")
    const tunnel = await ready(target, "web")
    const old = caPair(target)
    const oldFingerprint = fingerprintOf(new X509Certificate(old.certPem))
    const next = await issueCertificateAuthority(
      "next CA",
      new Date(Date.now() - DAY),
      new Date(Date.now() + 3650 * DAY),
    )
    const nextFingerprint = fingerprintOf(new X509Certificate(next.certPem))
    const certificates = () => tunnelOf(target, "web")?.status?.tls
    const patchCa = (data: Record<string, string | null>) =>
      asUser(target, (kube) => kube.mergePatch(Secret, CA_SECRET_NAME, OPERATOR_NAMESPACE, { data }))

    // 1. Trust the next CA beside the current one: both ends restart once with both; the leaves stay.
    let before = (await target.emulator.state()).calls.length
    await patchCa({ [CaSecretKeys.trusted]: encode(next.certPem) })
    await until("both CAs trusted", () => (certificates()?.trusted.length === 2 ? true : undefined))
    await new Promise((resolve) => setTimeout(resolve, 600))
    expect(await mutationsSince(target, before)).toEqual({ updateMachine: 1 })
    expect(certificates()).toMatchObject({ issuer: oldFingerprint, trusted: [oldFingerprint, nextFingerprint] })
    expect(tunnelOf(target, "web")?.status?.app?.tlsDigest).toBe(tunnel.status?.app?.tlsDigest)

    // 2. Switch: the next CA signs, the old one is trusted beside it; new leaves, one push, one restart.
    before = (await target.emulator.state()).calls.length
    await patchCa({
      [CaSecretKeys.cert]: encode(next.certPem),
      [CaSecretKeys.key]: encode(next.keyPem),
      [CaSecretKeys.trusted]: encode(old.certPem),
    })
    await until("leaves from the next CA", () => (certificates()?.issuer === nextFingerprint ? true : undefined))
    await new Promise((resolve) => setTimeout(resolve, 600))
    expect(await mutationsSince(target, before)).toEqual({ setSecrets: 1, updateMachine: 1 })
    expect(certificates()?.trusted).toEqual([nextFingerprint, oldFingerprint])

    // 3. Every tunnel's issuer is the next CA: stop trusting the old one.
    before = (await target.emulator.state()).calls.length
    await patchCa({ [CaSecretKeys.trusted]: null })
    await until("the old CA dropped", () => (certificates()?.trusted.length === 1 ? true : undefined))
    await new Promise((resolve) => setTimeout(resolve, 600))
    expect(await mutationsSince(target, before)).toEqual({ updateMachine: 1 })
    expect(tunnelOf(target, "web")?.status?.addresses).toEqual(tunnel.status?.addresses)
  })

  it("stops before Fly when the CA Secret cannot sign, and never overwrites it", async () => {
    const target = await start()
    await asUser(target, (kube) =>
      kube.create(Secret, {
        metadata: { name: CA_SECRET_NAME, namespace: OPERATOR_NAMESPACE },
        data: { [CaSecretKeys.cert]: encode("not a certificate"), [CaSecretKeys.key]: encode("nor a key") },
      }),
    )
    await createTunnel(target, "web")
    const blocked = await until("CertificateAuthorityInvalid", () =>
      tunnelOf(target, "web")?.status?.conditions?.find((c) => c.reason === "CertificateAuthorityInvalid"),
    )
    expect(blocked.message).toContain(
      `Secret ${OPERATOR_NAMESPACE}/${CA_SECRET_NAME}) key ca.crt is not one PEM certificate`,
    )
    expect((await target.emulator.state()).calls).toEqual([])
    expect(decode(secret(target, CA_SECRET_NAME)?.data?.[CaSecretKeys.cert])).toBe("not a certificate")
  })
})
