import { isIPv4 } from "node:net"
import { Annotations, OperatorAnnotations, portAnnotation } from "@fly-tunnel-operator/api"
import type { Fault } from "@fly-tunnel-operator/fly-emulator"
import type { V1Service, V1ServicePort } from "@kubernetes/client-node"
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { FieldManager, KubeClient } from "../src/kube/kubeClient.ts"
import { CoreEvent, FlyTunnel, Secret, Service } from "../src/kube/resourceType.ts"
import {
  type FastOperator,
  LOAD_BALANCER_CLASS,
  OPERATOR_NAMESPACE,
  startFastOperator,
  until,
} from "./support/fastHarness.ts"

let counter = 0
const service = (
  name: string,
  annotations: Record<string, string>,
  ports: ReadonlyArray<V1ServicePort> = [{ name: "https", port: 443, protocol: "TCP" }],
): V1Service => ({
  metadata: { name, namespace: "default", annotations },
  spec: {
    type: "LoadBalancer",
    loadBalancerClass: LOAD_BALANCER_CLASS,
    clusterIP: `10.96.1.${++counter}`,
    ports: [...ports],
  },
})

/** A fault without its action (an Omit that distributes over the union). */
type FaultShape = Fault extends infer Each ? (Each extends Fault ? Omit<Each, "action"> : never) : never
const faults: ReadonlyArray<readonly [string, FaultShape]> = [
  ["a 502 after Fly applied it", { kind: "status", status: 502, applied: true }],
  ["a 503 that applied nothing", { kind: "status", status: 503 }],
  ["a 429", { kind: "status", status: 429 }],
  ["a 408 after Fly applied it", { kind: "timeout", holdMs: 20, applied: true }],
  ["a 408 that applied nothing", { kind: "timeout", holdMs: 20 }],
  ["a connection reset after Fly applied it", { kind: "lostResponse" }],
  ["no answer at all after Fly applied it", { kind: "timeout", hang: true, applied: true }],
]

/**
 * TLS at Fly's edge, hostnames and the shared IPv4, decided by the controllers against the in-memory API server and
 * the emulator in-process, proven from the two call logs.
 */
describe("edge: certificates, hostnames and the shared IPv4 (fast tier)", () => {
  let operator: FastOperator
  const asUser = <A, E>(effect: Effect.Effect<A, E, KubeClient>) =>
    operator.run(effect.pipe(Effect.provideService(FieldManager, "test")))
  const create = (object: V1Service) => asUser(KubeClient.use((kube) => kube.create(Service, object)))
  const patchAnnotations = (name: string, annotations: Record<string, string | null>) =>
    asUser(KubeClient.use((kube) => kube.mergePatch(Service, name, "default", { metadata: { annotations } })))
  const tunnel = (name: string) =>
    operator.kube.objects(FlyTunnel, "default").find((item) => item.metadata?.name === name)
  const svc = (name: string) => operator.kube.objects(Service, "default").find((item) => item.metadata?.name === name)
  const condition = (name: string, type: string) => tunnel(name)?.status?.conditions?.find((item) => item.type === type)
  const events = (name: string, reason: string) =>
    operator.kube
      .objects(CoreEvent, "default")
      .filter((event) => event.involvedObject?.name === name && event.reason === reason)
  const since = async (count: number) => (await operator.emulator.state()).calls.slice(count)
  const callCount = async () => (await operator.emulator.state()).calls.length
  const flyCall = (method: string, path: string, body?: object) =>
    fetch(`${operator.emulator.baseUrl}/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${operator.emulator.token}`, "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    })

  beforeAll(async () => {
    operator = await startFastOperator()
    operator.startControllers()
  })
  afterAll(() => operator.close())

  it("a tls port with a hostname: published before the certificate is issued, with the DNS to create; issued once DNS points", async () => {
    const before = await callCount()
    await create(
      service(
        "shop",
        {
          [portAnnotation("https", "edge")]: "tls",
          [portAnnotation(80, "edge")]: "http",
          [Annotations.hostnames]: "shop.example.com",
        },
        [
          { name: "https", port: 443, protocol: "TCP" },
          { name: "http", port: 80, protocol: "TCP" },
        ],
      ),
    )
    const ip = await until("the address published", () => svc("shop")?.status?.loadBalancer?.ingress?.[0]?.ip)
    const pending = await until("CertificatePending naming the address", () => {
      const found = condition("shop", "CertificatesReady")
      return found?.message.includes(`A ${ip}`) ? found : undefined
    })
    const app = tunnel("shop")?.status?.app?.name ?? ""
    // Published while the certificate waits: DNS can only point at an address that is published.
    expect(condition("shop", "Ready")?.status).toBe("True")
    expect(pending).toMatchObject({ status: "False", reason: "CertificatePending" })
    // Every record Fly's dns_requirements name, as Fly gave them (read back from the emulator).
    const fly = (await (await flyCall("GET", `/apps/${app}/certificates/shop.example.com`)).json()) as {
      readonly dns_requirements: {
        readonly aaaa: ReadonlyArray<string>
        readonly acme_challenge: { readonly name: string; readonly target: string }
        readonly ownership: { readonly name: string; readonly app_value: string }
      }
    }
    const { aaaa, acme_challenge: challenge, ownership } = fly.dns_requirements
    expect(aaaa).toHaveLength(1)
    expect(ownership.name).toBe("_fly-ownership.shop.example.com")
    expect(pending.message).toBe(
      `shop.example.com waits for DNS: A ${ip}, AAAA ${aaaa[0]}, or CNAME ${app}.fly.dev; ` +
        `or CNAME ${challenge.name} → ${challenge.target}; ownership: TXT ${ownership.name} "${ownership.app_value}"`,
    )
    expect(tunnel("shop")?.status).toMatchObject({
      hostname: `${app}.fly.dev`,
      certificates: [
        {
          hostname: "shop.example.com",
          status: "pending_validation",
          dnsRequirements: {
            a: [ip],
            aaaa: [...aaaa],
            cname: `${app}.fly.dev`,
            acmeChallenge: challenge,
            ownership: { name: ownership.name, value: ownership.app_value },
          },
        },
      ],
    })
    // <app>.fly.dev on the Service as the operator's annotation, never beside the IPs in the ingress.
    expect(svc("shop")?.metadata?.annotations?.[OperatorAnnotations.flyHostname]).toBe(`${app}.fly.dev`)
    expect((svc("shop")?.status?.loadBalancer?.ingress ?? []).map((ingress) => ingress.hostname)).toEqual([
      undefined,
      undefined,
    ])
    // Fly's edge handlers on the Machine's ports.
    const state = await operator.emulator.state()
    const services = state.machines.find((machine) => machine.app === app)?.config.services as ReadonlyArray<{
      readonly internal_port: number
      readonly ports: ReadonlyArray<{ readonly handlers?: ReadonlyArray<string> }>
    }>
    expect(services.map((entry) => [entry.internal_port, entry.ports[0]?.handlers])).toEqual([
      [7000, undefined],
      [443, ["tls"]],
      [80, ["http"]],
    ])

    await operator.emulator.setDns({ hostname: "shop.example.com", points_at: app })
    await until("CertificatesReady True", () =>
      condition("shop", "CertificatesReady")?.status === "True" ? true : undefined,
    )
    expect(tunnel("shop")?.status?.certificates).toEqual([{ hostname: "shop.example.com", status: "active" }])
    await until("the CertificateActive Event", () =>
      events("shop", "CertificateActive").length > 0 ? true : undefined,
    )
    const calls = await since(before)
    const created = calls.filter((call) => call.action === "createAcmeCertificate")
    expect(created.map((call) => [call.app, call.status])).toEqual([[app, 201]])
    // The pass that created the App knows it has no certificates: the first create is asked for without a list.
    const firstCreate = calls.findIndex((call) => call.action === "createAcmeCertificate")
    expect(calls.slice(0, firstCreate).filter((call) => call.action === "listCertificates")).toEqual([])

    // Converged: no more checks once issued (wait for a would-be poll of 50 ms several times over).
    const settled = await callCount()
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect((await since(settled)).filter((call) => call.action === "checkCertificate")).toEqual([])
  })

  it("keeps the certificates in step with the hostnames, never touching one the spec never listed; teardown removes them", async () => {
    await create(
      service("blog", {
        [portAnnotation(443, "edge")]: "tls+http",
        [Annotations.hostnames]: "a.example.com,b.example.com",
      }),
    )
    await until("two certificates", () => (tunnel("blog")?.status?.certificates?.length === 2 ? true : undefined))
    const app = tunnel("blog")?.status?.app?.name ?? ""
    // Someone adds a hostname to the App by hand.
    expect((await flyCall("POST", `/apps/${app}/certificates/acme`, { hostname: "manual.example.com" })).status).toBe(
      201,
    )
    const before = await callCount()
    await patchAnnotations("blog", { [Annotations.hostnames]: "b.example.com,c.example.com" })
    await until("a.example.com gone, c.example.com added", () => {
      const hosts = (tunnel("blog")?.status?.certificates ?? []).map((certificate) => certificate.hostname)
      return hosts.join(",") === "b.example.com,c.example.com" ? true : undefined
    })
    const calls = await since(before)
    expect(calls.filter((call) => call.action === "deleteCertificate").map((call) => call.path)).toEqual([
      `/v1/apps/${app}/certificates/a.example.com`,
    ])
    expect(calls.filter((call) => call.action === "createAcmeCertificate" && call.applied)).toHaveLength(1)
    const onFly = (await operator.emulator.state()).certificates.filter((entry) => entry.app === app)
    expect(onFly.map((entry) => entry.hostname).sort()).toEqual([
      "b.example.com",
      "c.example.com",
      "manual.example.com",
    ])

    const teardown = await callCount()
    await asUser(KubeClient.use((kube) => kube.delete(Service, "blog", "default")))
    await until("the App gone", async () =>
      (await operator.emulator.state()).apps.some((entry) => entry.name === app) ? undefined : true,
    )
    const removed = (await since(teardown)).filter((call) => call.action === "deleteCertificate" && call.applied)
    expect(removed.map((call) => call.path.split("/").at(-1)).sort()).toEqual([
      "b.example.com",
      "c.example.com",
      "manual.example.com",
    ])
  })

  it("shows Fly's validation error and Let's Encrypt's rate limit, with Events", async () => {
    await create(
      service("strict", { [portAnnotation(443, "edge")]: "tls", [Annotations.hostnames]: "caa.example.com" }),
    )
    const app = await until("the App", () => tunnel("strict")?.status?.app?.name)
    await operator.emulator.injectAcmeFault({
      hostname: "caa.example.com",
      kind: "validation_error",
      code: "CAA_RECORD_MISSING_FLY",
      message: "no CAA record allows Let's Encrypt",
      remediation: "add a CAA record for letsencrypt.org",
    })
    await operator.emulator.setDns({ hostname: "caa.example.com", points_at: app })
    const failed = await until("CertificateFailed", () =>
      condition("strict", "CertificatesReady")?.reason === "CertificateFailed"
        ? condition("strict", "CertificatesReady")
        : undefined,
    )
    expect(failed.message).toBe(
      "caa.example.com: CAA_RECORD_MISSING_FLY: no CAA record allows Let's Encrypt (add a CAA record for letsencrypt.org)",
    )
    await until("the CertificateFailed Event", () =>
      events("strict", "CertificateFailed").length > 0 ? true : undefined,
    )
    // A certificate Fly cannot issue does not hold the tunnel back.
    await until("Ready", () => (condition("strict", "Ready")?.status === "True" ? true : undefined))
    expect(condition("strict", "CertificatesReady")?.reason).toBe("CertificateFailed")

    await operator.emulator.injectAcmeFault({ hostname: "caa.example.com", kind: "rate_limited", seconds: 3600 })
    const limited = await until("CertificateRateLimited", () =>
      condition("strict", "CertificatesReady")?.reason === "CertificateRateLimited"
        ? condition("strict", "CertificatesReady")
        : undefined,
    )
    expect(limited.message).toMatch(/^caa\.example\.com: Let's Encrypt's rate limit holds issuance until \d{4}-/)
    await until("the CertificateRateLimited Event", () =>
      events("strict", "CertificateRateLimited").length > 0 ? true : undefined,
    )
    await operator.emulator.clearAcmeFaults()
    await until("issued", () => (condition("strict", "CertificatesReady")?.status === "True" ? true : undefined))
  })

  it("two Services on the shared IPv4: one address for both, frpc dialling each tunnel's IPv6", async () => {
    const before = await callCount()
    for (const name of ["left", "right"])
      await create(service(name, { [Annotations.ipv4]: "shared", [portAnnotation(443, "edge")]: "tls" }))
    const [left, right] = [
      await until("left published", () => svc("left")?.status?.loadBalancer?.ingress?.[0]?.ip),
      await until("right published", () => svc("right")?.status?.loadBalancer?.ingress?.[0]?.ip),
    ]
    expect(left).toBe(right)
    const state = await operator.emulator.state()
    const apps = ["left", "right"].map((name) => tunnel(name)?.status?.app?.name ?? "")
    const creates = (await since(before)).filter((call) => call.action === "createIpAssignment" && call.applied)
    for (const app of apps) {
      expect(
        creates
          .filter((call) => call.app === app)
          .map((call) => call.ipType)
          .sort(),
      ).toEqual(["shared_v4", "v6"])
      const ipv6 = state.ips.find((ip) => ip.app === app && ip.type === "v6")?.ip
      const secret = operator.kube
        .objects(Secret, OPERATOR_NAMESPACE)
        .find(
          (item) =>
            item.metadata?.labels?.["fly-tunnel-operator.dev/tunnel-uid"] ===
            tunnel(apps.indexOf(app) === 0 ? "left" : "right")?.metadata?.uid,
        )
      const config = Buffer.from(secret?.data?.["frpc-ord.toml"] ?? "", "base64").toString()
      expect(config).toContain(`serverAddr = "${ipv6}"`)
    }
    expect(state.ips.filter((ip) => ip.type === "v4" && apps.includes(ip.app))).toEqual([])
  })

  it("refuses a raw TCP port on the shared IPv4 with the reason and the cost, and creates nothing", async () => {
    const before = await callCount()
    await create(service("raw", { [Annotations.ipv4]: "shared" }, [{ name: "pg", port: 5432, protocol: "TCP" }]))
    const refused = await until("refused", () =>
      svc("raw")?.status?.conditions?.find((item) => item.reason === "InvalidSpec"),
    )
    expect(refused.message).toBe(
      'fly-tunnel-operator.dev/ipv4: "shared" is not allowed: port 5432 is raw TCP, which a shared IPv4 cannot carry (Fly routes it by TLS SNI, so only edge tls or tls+http): set edge: tls or ipv4: dedicated (a dedicated IPv4, $2/month)',
    )
    expect(tunnel("raw")).toBeUndefined()
    expect((await since(before)).filter((call) => call.app?.startsWith("fto-raw-"))).toEqual([])
  })

  it("moves a tunnel from its dedicated IPv4 to the shared one, releasing the dedicated once the shared exists", async () => {
    await create(service("mover", { [portAnnotation(443, "edge")]: "tls" }))
    const dedicated = await until("dedicated", () => svc("mover")?.status?.loadBalancer?.ingress?.[0]?.ip)
    const app = tunnel("mover")?.status?.app?.name ?? ""
    await patchAnnotations("mover", { [Annotations.ipv4]: "shared" })
    const shared = await until("shared published", () => {
      const ip = svc("mover")?.status?.loadBalancer?.ingress?.[0]?.ip
      return ip !== undefined && ip !== dedicated && isIPv4(ip) ? ip : undefined
    })
    const ips = (await operator.emulator.state()).ips.filter((ip) => ip.app === app)
    expect(ips.map((ip) => [ip.type, ip.ip]).sort()).toEqual(
      [
        ["shared_v4", shared],
        ["v6", ips.find((ip) => ip.type === "v6")?.ip],
      ].sort(),
    )
  })
})

describe("exactly-once certificate creates under every fault (fast tier)", () => {
  let operator: FastOperator
  beforeAll(async () => {
    operator = await startFastOperator()
    operator.startControllers()
  })
  afterAll(() => operator.close())

  let counter = 0
  for (const [faultName, fault] of faults) {
    it(`createAcmeCertificate failing with ${faultName}`, async () => {
      counter += 1
      const name = `cert-once-${counter}`
      const hostnames = [`one-${counter}.example.com`, `two-${counter}.example.com`]
      const callsBefore = (await operator.emulator.state()).calls.length
      await operator.emulator.injectFault({ action: "createAcmeCertificate", ...fault } as Fault)
      await operator.run(
        KubeClient.use((kube) =>
          kube.create(
            Service,
            service(name, { [portAnnotation(443, "edge")]: "tls", [Annotations.hostnames]: hostnames.join(",") }),
          ),
        ).pipe(Effect.provideService(FieldManager, "test")),
      )
      const certificates = await until(
        `${name}'s two certificates`,
        () => {
          const tunnel = operator.kube.objects(FlyTunnel, "default").find((item) => item.metadata?.name === name)
          return tunnel?.status?.certificates?.length === 2 ? tunnel.status.certificates : undefined
        },
        9_000,
      )
      expect(certificates.map((certificate) => certificate.hostname)).toEqual(hostnames)
      const state = await operator.emulator.state()
      const app = operator.kube.objects(FlyTunnel, "default").find((item) => item.metadata?.name === name)?.status
        ?.app?.name
      const creates = state.calls.slice(callsBefore).filter((call) => call.action === "createAcmeCertificate")
      // The fault was met.
      expect(creates.some((call) => call.fault !== undefined)).toBe(true)
      // Each hostname applied once, and never asked for again once Fly had it (no 422 "already exists").
      expect(creates.filter((call) => call.applied)).toHaveLength(2)
      expect(creates.filter((call) => call.status === 422)).toEqual([])
      expect(
        state.certificates
          .filter((entry) => entry.app === app)
          .map((entry) => entry.hostname)
          .sort(),
      ).toEqual(hostnames)
    })
  }
})
