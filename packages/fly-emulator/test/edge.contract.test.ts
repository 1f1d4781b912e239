import * as http from "node:http"
import * as https from "node:https"
import { Layer, ManagedRuntime } from "effect"
import { afterAll, afterEach, describe, expect, it } from "vitest"
import { makeEdgeCa } from "../src/edge/edgeCa.ts"
import { EdgeTls } from "../src/edge/edgeTls.ts"
import { EmulatorNetwork } from "../src/network/emulatorNetwork.ts"
import { networkLayer } from "../src/network/networkLayer.ts"
import { FlyProxy } from "../src/proxy/flyProxy.ts"
import type { ProxyBackend, ProxyRoute } from "../src/proxy/proxyRoute.ts"
import { httpEchoIn } from "./networkHelpers.ts"

/** Fly's edge handlers on the emulated proxy: TLS ended with the edge CA, HTTP with Fly's headers, shared IPv4 by name. */
const ca = await makeEdgeCa()
const runtime = ManagedRuntime.make(
  FlyProxy.layer.pipe(Layer.provideMerge(networkLayer("namespace")), Layer.provide(EdgeTls.layer(ca))),
)
const sync = (routes: ReadonlyArray<ProxyRoute>) => runtime.runPromise(FlyProxy.use((proxy) => proxy.sync(routes)))
const stops: Array<() => void> = []
afterEach(() => {
  for (const stop of stops.splice(0)) stop()
})
afterAll(async () => {
  await sync([])
  await runtime.dispose()
})

let machines = 0
/** A machine namespace whose app answers plain HTTP on `port`, naming itself `label`. */
const httpMachine = async (port: number, label: string): Promise<ProxyBackend> => {
  const machineId = `edge${++machines}`
  const place = await runtime.runPromise(EmulatorNetwork.use((network) => network.allocateMachineAddress(machineId)))
  const echo = httpEchoIn(place.run, port, label)
  stops.push(echo.stop)
  await echo.ready
  return { machineId, address: place.address, globalServices: place.globalServices, internalPort: port, checks: [] }
}
const publicIp = (type: "v4" | "shared_v4" = "v4") =>
  runtime.runPromise(EmulatorNetwork.use((network) => network.allocatePublicIp(type)))

const route = (app: string, ip: string, port: number, backend: ProxyBackend, extra: Partial<ProxyRoute>) =>
  ({
    app,
    publicIp: ip,
    port,
    protocol: "tcp",
    handlers: [],
    hostnames: [`${app}.fly.dev`],
    certifiedNames: [`${app}.fly.dev`],
    backends: [backend],
    ...extra,
  }) satisfies ProxyRoute

interface Answer {
  readonly status: number
  readonly headers: http.IncomingHttpHeaders
  // biome-ignore lint/suspicious/noExplicitAny: the echo's JSON is inspected field by field
  readonly body: any
  readonly localAddress: string
}

const collect = (request: http.ClientRequest) =>
  new Promise<Answer>((resolve, reject) => {
    request.on("response", (response) => {
      let text = ""
      response.on("data", (chunk) => (text += chunk))
      response.on("end", () =>
        resolve({
          status: response.statusCode ?? 0,
          headers: response.headers,
          body: text.startsWith("{") ? JSON.parse(text) : text,
          localAddress: request.socket?.localAddress ?? "",
        }),
      )
    })
    request.on("error", reject)
    request.setTimeout(10_000, () => request.destroy(new Error("timeout")))
    request.end()
  })

/** An HTTPS GET of `ip:port` asking for `name` (SNI and Host), trusting only the edge CA. */
const httpsGet = (ip: string, port: number, name: string) =>
  collect(
    https.request({ host: ip, port, servername: name, headers: { host: name }, ca: ca.certificatePem, agent: false }),
  )
const httpGet = (ip: string, port: number, host: string) =>
  collect(http.request({ host: ip, port, headers: { host }, agent: false }))

describe("Fly edge handlers on the emulated proxy", () => {
  it("tls: ends TLS with a certificate from the edge CA for an issued hostname and sends plain bytes on", async () => {
    const [ip, machine] = [await publicIp(), await httpMachine(9443, "shop")]
    await sync([
      route("shop-app", ip, 443, machine, {
        handlers: ["tls"],
        hostnames: ["shop-app.fly.dev", "shop.example.com", "pending.example.com"],
        certifiedNames: ["shop-app.fly.dev", "shop.example.com"],
      }),
    ])
    const answer = await httpsGet(ip, 443, "shop.example.com")
    // The app behind a tls port got plain HTTP (TLS ended at the edge) with nothing added.
    expect(answer.body).toMatchObject({ label: "shop", method: "GET", url: "/", headers: { host: "shop.example.com" } })
    expect(answer.body.headers["x-forwarded-for"]).toBeUndefined()
    expect((await httpsGet(ip, 443, "shop-app.fly.dev")).body.label).toBe("shop")
    // A hostname without an issued certificate gets the App's <app>.fly.dev one, which a client refuses.
    await expect(httpsGet(ip, 443, "pending.example.com")).rejects.toThrow(/altnames|certificate/i)
  })

  it("shared IPv4: two Apps on one address and port are told apart by SNI; an unknown name gets no handshake", async () => {
    const ip = await publicIp("shared_v4")
    const [a, b] = [await httpMachine(9444, "a"), await httpMachine(9445, "b")]
    await sync([
      route("app-a", ip, 443, a, { handlers: ["tls"], shared: true }),
      route("app-b", ip, 443, b, { handlers: ["tls", "http"], shared: true }),
    ])
    expect((await httpsGet(ip, 443, "app-a.fly.dev")).body.label).toBe("a")
    const viaB = await httpsGet(ip, 443, "app-b.fly.dev")
    expect(viaB.body).toMatchObject({ label: "b", headers: { "x-forwarded-proto": "https" } })
    await expect(httpsGet(ip, 443, "app-c.fly.dev")).rejects.toThrow()
  })

  it("http: adds Fly-Client-IP and X-Forwarded-* with the client's address; routes a shared port 80 by Host", async () => {
    const ip = await publicIp("shared_v4")
    const [a, b] = [await httpMachine(9080, "a"), await httpMachine(9081, "b")]
    await sync([
      route("web-a", ip, 80, a, { handlers: ["http"], shared: true }),
      route("web-b", ip, 80, b, { handlers: ["http"], shared: true, hostnames: ["web-b.fly.dev", "b.example.com"] }),
    ])
    const answer = await httpGet(ip, 80, "web-a.fly.dev")
    expect(answer.body).toMatchObject({
      label: "a",
      headers: {
        "fly-client-ip": answer.localAddress,
        "x-forwarded-for": answer.localAddress,
        "x-forwarded-proto": "http",
        "x-forwarded-port": "80",
        "x-forwarded-ssl": "off",
        "fly-forwarded-port": "80",
      },
    })
    expect((await httpGet(ip, 80, "b.example.com:80")).body.label).toBe("b")
    expect((await httpGet(ip, 80, "nobody.example.com")).status).toBe(404)
  })

  it("http with force_https answers a redirect to HTTPS and never reaches the app", async () => {
    const [ip, machine] = [await publicIp(), await httpMachine(9082, "redirected")]
    await sync([route("redir", ip, 8080, machine, { handlers: ["http"], forceHttps: true })])
    const answer = await httpGet(ip, 8080, "redir.fly.dev")
    expect(answer.status).toBe(301)
    expect(answer.headers.location).toBe("https://redir.fly.dev/")
  })
})
