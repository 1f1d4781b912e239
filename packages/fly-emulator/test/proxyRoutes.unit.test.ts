import { describe, expect, it } from "vitest"
import { proxyRoutes } from "../src/proxyRoutes.ts"
import { type MachineRecord, Store } from "../src/store.ts"

const machine = (app: string, services: ReadonlyArray<unknown>): MachineRecord => ({
  id: `m-${app}`,
  app,
  name: "frps",
  region: "ord",
  privateIp: "fdaa::2",
  createdAt: "",
  state: "started",
  instanceId: "01",
  config: { image: "frps", services },
  updatedAt: "",
  events: [],
  generation: 0,
  restarts: 0,
  running: true,
  skipServiceRegistration: false,
  hostStatus: "ok",
})

const ip = (app: string, address: string, type: "v4" | "v6" | "shared_v4") => ({
  ip: address,
  app,
  type,
  region: "global",
  shared: type === "shared_v4",
  serviceName: "",
  createdAt: "",
  network: null,
})

describe("proxy routes", () => {
  it("route a shared IPv4 only by name (http on 80, tls anywhere), per App; the IPv6 carries every TCP port", () => {
    const store = new Store()
    const services = [
      { protocol: "tcp", internal_port: 7000, ports: [{ port: 7000 }] },
      { protocol: "tcp", internal_port: 80, ports: [{ port: 80, handlers: ["http"] }] },
      { protocol: "tcp", internal_port: 443, ports: [{ port: 443, handlers: ["tls"] }] },
      { protocol: "tcp", internal_port: 8080, ports: [{ port: 8080, handlers: ["http"] }] },
      { protocol: "tcp", internal_port: 5432, ports: [{ port: 5432, handlers: ["proxy_proto"] }] },
      { protocol: "udp", internal_port: 53, ports: [{ port: 53 }] },
    ]
    for (const app of ["a", "b"]) {
      store.machines.set(`m-${app}`, machine(app, services))
      store.ips.push(ip(app, "203.0.113.9", "shared_v4"))
    }
    store.ips.push(ip("a", "2001:db8::a", "v6"))
    store.certificates.set(
      "a",
      new Map([
        [
          "shop.example.com",
          {
            hostname: "shop.example.com",
            app: "a",
            createdAt: "",
            updatedAt: "",
            status: "active",
            validationErrors: [],
            dnsConfigured: true,
          },
        ],
      ]),
    )
    const routes = proxyRoutes(store)
    const on = (address: string) =>
      routes.filter((route) => route.ip === address).map((route) => `${route.app}:${route.protocol}/${route.port}`)
    expect(on("203.0.113.9").sort()).toEqual(["a:tcp/443", "a:tcp/80", "b:tcp/443", "b:tcp/80"])
    expect(on("2001:db8::a").sort()).toEqual(["a:tcp/443", "a:tcp/5432", "a:tcp/7000", "a:tcp/80", "a:tcp/8080"])
    const shop = routes.find((route) => route.app === "a" && route.port === 443)
    expect(shop).toMatchObject({
      hostnames: ["a.fly.dev", "shop.example.com"],
      certifiedNames: ["a.fly.dev", "shop.example.com"],
    })
  })
})
