import { execFile } from "node:child_process"
import { randomBytes } from "node:crypto"
import { mkdtemp, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import {
  deployOperator,
  type EchoBackend,
  type LocalStack,
  type OperatorProcess,
  startEchoBackend,
  startLocalStack,
} from "@fly-tunnel-operator/local-stack"
import { eventually } from "@fly-tunnel-operator/testkit"
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest"
import { type Kubectl, loadBalancerService, makeKubectl, type ServicePort } from "./kubectl.ts"

const tools = inject("tools")
const controlPlane = inject("controlPlane")
const suffix = randomBytes(3).toString("hex")
const operatorNamespace = `fto-edge-${suffix}`
const namespace = `edge-${suffix}`

let stack: LocalStack
let operator: OperatorProcess
let kubectl: Kubectl
let caFile: string
let workDir: string
const backends: Array<EchoBackend> = []

beforeAll(async () => {
  stack = await startLocalStack({ tools, controlPlane })
  const deployment = await deployOperator(stack, { tools, namespace: operatorNamespace, release: `fto-${suffix}` })
  operator = await deployment.start({ logLevel: "debug" })
  kubectl = makeKubectl(tools.kubectl, controlPlane.kubeconfigPath)
  await kubectl(["create", "namespace", namespace])
  workDir = await mkdtemp(join(tmpdir(), "fto-edge-"))
  caFile = join(workDir, "emulator-ca.pem")
  await writeFile(caFile, stack.emulator.caCertificate)
})

afterAll(async () => {
  await Promise.all(backends.map((backend) => backend.stop()))
  await operator?.stop()
  await kubectl?.(["delete", "namespace", namespace, "--wait=false"]).catch(() => {})
  await stack?.stop()
  if (workDir !== undefined) await rm(workDir, { recursive: true, force: true })
})

interface CurlResult {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

/** The real curl (a client as users run it); never throws, the exit code says how it went. */
const curl = (args: ReadonlyArray<string>): Promise<CurlResult> =>
  new Promise((resolve) => {
    execFile("curl", ["-sS", "--max-time", "10", ...args], (error, stdout, stderr) =>
      resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : -1, stdout, stderr }),
    )
  })

/** What the HTTP echo backend answered (its label and the request it saw), and curl's own address. */
const echoed = (result: CurlResult) => {
  const [body = "", localIp = ""] = result.stdout.split("\n---\n")
  return {
    ...(JSON.parse(body) as { label: string; headers: Record<string, string> }),
    localIp: localIp.trim(),
  }
}

const jsonpath = (kind: string, name: string, path: string) =>
  kubectl(["-n", namespace, "get", kind, name, "-o", `jsonpath={${path}}`])

/** Applies a Service whose backends are HTTP echo servers on its ClusterIP, and waits for its public IPv4. */
const provision = async (name: string, ports: ReadonlyArray<ServicePort>, annotations: Record<string, string>) => {
  await kubectl(["apply", "-f", "-"], JSON.stringify(loadBalancerService(namespace, name, 0, annotations, ports)))
  const clusterIp = await jsonpath("svc", name, ".spec.clusterIP")
  for (const port of ports)
    backends.push(
      await startEchoBackend({
        host: clusterIp,
        port: port.port,
        exec: stack.serviceNetwork.exec,
        http: { label: name },
      }),
    )
  const externalIp = await eventually(`EXTERNAL-IP of ${name}`, async () => {
    const ip = (await jsonpath("svc", name, ".status.loadBalancer.ingress[0].ip")).trim()
    return /^\d+\.\d+\.\d+\.\d+$/.test(ip) ? ip : undefined
  })
  const app = (await jsonpath("flytunnel", name, ".status.app.name")).trim()
  return { externalIp, app }
}

const condition = async (name: string, type: string) => {
  const conditions = JSON.parse((await jsonpath("flytunnel", name, ".status.conditions")) || "[]") as ReadonlyArray<{
    type: string
    status: string
    reason: string
    message: string
  }>
  return conditions.find((entry) => entry.type === type)
}

const eventsOf = async (name: string, reason: string) =>
  (
    await kubectl([
      "-n",
      namespace,
      "get",
      "events",
      "--field-selector",
      `involvedObject.name=${name},reason=${reason}`,
      "-o",
      "jsonpath={.items[*].message}",
    ])
  ).trim()

const deleteAndWaitForApp = async (name: string, app: string) => {
  await kubectl(["-n", namespace, "delete", "svc", name, "--wait=true", "--timeout=120s"])
  await eventually(`${app} gone from Fly`, async () =>
    (await stack.emulator.state()).apps.some((entry) => entry.name === app) ? undefined : true,
  )
}

describe("TLS and domains at Fly's edge, on the local stack", () => {
  it("a tls port with a hostname: pending with DNS instructions, then, once DNS points at it, curl reaches the plain-HTTP backend; an http port sees X-Forwarded-For", async () => {
    const callsBefore = (await stack.emulator.state()).calls.length
    const { externalIp, app } = await provision(
      "shop",
      [
        { name: "http", port: 80, protocol: "TCP" },
        { name: "https", port: 443, protocol: "TCP" },
      ],
      {
        "fly-tunnel-operator.dev/http-edge": "http",
        "fly-tunnel-operator.dev/https-edge": "tls",
        "fly-tunnel-operator.dev/hostnames": "shop.example.com",
      },
    )
    // The address is published while the certificate waits for DNS; the status says what to create (the address
    // among it once Fly has been asked again since the address exists).
    const pending = await eventually("CertificatePending naming the address", async () => {
      const found = await condition("shop", "CertificatesReady")
      return found?.reason === "CertificatePending" && found.message.includes(`A ${externalIp}`) ? found : undefined
    })
    expect(pending.message).toContain(`shop.example.com waits for DNS: A ${externalIp}`)
    expect(pending.message).toContain(`CNAME ${app}.fly.dev`)
    expect(pending.message).toContain("or CNAME _acme-challenge.shop.example.com → ")
    expect(pending.message).toMatch(/; ownership: TXT _fly-ownership\.shop\.example\.com "app-[^"]+"$/)
    expect((await condition("shop", "Ready"))?.status).toBe("True")
    const certificates = JSON.parse(await jsonpath("flytunnel", "shop", ".status.certificates"))
    expect(certificates).toMatchObject([
      {
        hostname: "shop.example.com",
        status: "pending_validation",
        dnsRequirements: {
          a: [externalIp],
          cname: `${app}.fly.dev`,
          acmeChallenge: { name: "_acme-challenge.shop.example.com" },
          ownership: { name: "_fly-ownership.shop.example.com" },
        },
      },
    ])
    const described = await kubectl(["-n", namespace, "describe", "flytunnel", "shop"])
    expect(described).toContain("_acme-challenge.shop.example.com")
    expect(described).toContain("_fly-ownership.shop.example.com")
    expect(described).toContain("CertificatePending")
    // <app>.fly.dev: in status and the Service's annotation, never in the ingress beside the IP.
    expect((await jsonpath("flytunnel", "shop", ".status.hostname")).trim()).toBe(`${app}.fly.dev`)
    expect((await jsonpath("svc", "shop", ".metadata.annotations.fly-tunnel-operator\\.dev/fly-hostname")).trim()).toBe(
      `${app}.fly.dev`,
    )
    expect((await jsonpath("svc", "shop", ".status.loadBalancer.ingress[*].hostname")).trim()).toBe("")

    const https = ["--resolve", `shop.example.com:443:${externalIp}`, "--cacert", caFile, "https://shop.example.com/"]
    // No certificate for the name yet: the edge offers <app>.fly.dev's, which curl refuses.
    expect((await curl(https)).code).not.toBe(0)

    await stack.emulator.setDns({ hostname: "shop.example.com", points_at: app })
    await eventually("CertificatesReady", async () =>
      (await condition("shop", "CertificatesReady"))?.status === "True" ? true : undefined,
    )
    expect(await eventsOf("shop", "CertificateActive")).toContain("shop.example.com")
    const served = await curl([...https, "-w", "\n---\n%{local_ip}"])
    expect(served.code, served.stderr).toBe(0)
    // Behind a tls port the backend gets plain HTTP, the bytes untouched (no headers added).
    expect(echoed(served)).toMatchObject({ label: "shop", headers: { host: "shop.example.com" } })
    expect(echoed(served).headers["x-forwarded-for"]).toBeUndefined()
    // <app>.fly.dev is served on the tls port too.
    const flyDev = await curl([
      "--resolve",
      `${app}.fly.dev:443:${externalIp}`,
      "--cacert",
      caFile,
      `https://${app}.fly.dev/`,
      "-w",
      "\n---\n%{local_ip}",
    ])
    expect(echoed(flyDev).label).toBe("shop")

    // The http port: Fly's edge speaks HTTP and tells the backend who the client is.
    const plain = await curl(["-H", "Host: shop.example.com", `http://${externalIp}/`, "-w", "\n---\n%{local_ip}"])
    expect(plain.code, plain.stderr).toBe(0)
    const request = echoed(plain)
    expect(request.localIp).toMatch(/^\d+\.\d+\.\d+\.\d+$/)
    expect(request.headers).toMatchObject({
      "x-forwarded-for": request.localIp,
      "fly-client-ip": request.localIp,
      "x-forwarded-proto": "http",
    })

    const calls = (await stack.emulator.state()).calls.slice(callsBefore)
    expect(calls.filter((call) => call.action === "createAcmeCertificate" && call.applied)).toHaveLength(1)
    const teardownFrom = (await stack.emulator.state()).calls.length
    await deleteAndWaitForApp("shop", app)
    const teardown = (await stack.emulator.state()).calls.slice(teardownFrom)
    expect(
      teardown.filter((call) => call.action === "deleteCertificate" && call.applied).map((call) => call.path),
    ).toEqual([`/v1/apps/${app}/certificates/shop.example.com`])
  })

  it("two Services on one shared IPv4 are told apart by SNI", async () => {
    const annotations = { "fly-tunnel-operator.dev/ipv4": "shared", "fly-tunnel-operator.dev/443-edge": "tls" }
    const port = [{ name: "https", port: 443, protocol: "TCP" as const }]
    const left = await provision("left", port, annotations)
    const right = await provision("right", port, annotations)
    expect(right.externalIp).toBe(left.externalIp)
    const state = await stack.emulator.state()
    expect(
      state.ips
        .filter((ip) => ip.app === left.app || ip.app === right.app)
        .map((ip) => ip.type)
        .sort(),
    ).toEqual(["shared_v4", "shared_v4", "v6", "v6"])
    for (const { app, label } of [
      { app: left.app, label: "left" },
      { app: right.app, label: "right" },
    ]) {
      const answer = await curl([
        "--resolve",
        `${app}.fly.dev:443:${left.externalIp}`,
        "--cacert",
        caFile,
        `https://${app}.fly.dev/`,
        "-w",
        "\n---\n%{local_ip}",
      ])
      expect(answer.code, answer.stderr).toBe(0)
      expect(echoed(answer).label).toBe(label)
    }
    // A name neither App has: no handshake on the shared address.
    const stranger = await curl([
      "--resolve",
      `nobody.fly.dev:443:${left.externalIp}`,
      "--cacert",
      caFile,
      "https://nobody.fly.dev/",
    ])
    expect(stranger.code).not.toBe(0)
    await deleteAndWaitForApp("left", left.app)
    await deleteAndWaitForApp("right", right.app)
  })

  it("a raw TCP port on a shared IPv4 is refused with the reason, and nothing is created", async () => {
    const callsBefore = (await stack.emulator.state()).calls.length
    await kubectl(
      ["apply", "-f", "-"],
      JSON.stringify(
        loadBalancerService(namespace, "raw", 5432, { "fly-tunnel-operator.dev/ipv4": "shared" }, [
          { name: "pg", port: 5432, protocol: "TCP" },
        ]),
      ),
    )
    const refused = await eventually("the InvalidSpec condition", async () => {
      const conditions = JSON.parse((await jsonpath("svc", "raw", ".status.conditions")) || "[]") as ReadonlyArray<{
        reason: string
        message: string
      }>
      return conditions.find((entry) => entry.reason === "InvalidSpec")
    })
    expect(refused.message).toContain("port 5432 is raw TCP, which a shared IPv4 cannot carry")
    expect(refused.message).toContain("ipv4: dedicated (a dedicated IPv4, $2/month)")
    expect(await eventsOf("raw", "InvalidSpec")).toContain("port 5432 is raw TCP")
    await expect(kubectl(["-n", namespace, "get", "flytunnel", "raw"])).rejects.toThrow(/NotFound|not found/)
    const calls = (await stack.emulator.state()).calls.slice(callsBefore)
    expect(calls.filter((call) => call.app?.startsWith("fto-raw-"))).toEqual([])
    await kubectl(["-n", namespace, "delete", "svc", "raw", "--wait=true", "--timeout=60s"])
  })
})
