import { describe, expect, it } from "@effect/vitest"
import { Option } from "effect"
import { parse } from "smol-toml"
import {
  CONTROL_PORT_RANGE,
  chooseControlPorts,
  escapeTemplate,
  frpcConfig,
  frpcServerOf,
  frpsConfig,
  renderFrpcToml,
  renderFrpsToml,
} from "../src/index.ts"

describe("frps config", () => {
  const toml = renderFrpsToml(
    frpsConfig({
      bindPort: 7000,
      ports: [
        { port: 443, protocol: "TCP" },
        { port: 53, protocol: "UDP" },
        { port: 53, protocol: "TCP" },
      ],
    }),
  )
  const parsed = parse(toml)

  it("locks frps to the tunnel: token from env, TLS forced, exactly the tunnel's ports, no dashboard", () => {
    expect(parsed).toEqual({
      bindPort: 7000,
      auth: { method: "token", token: "{{ .Envs.FRP_TOKEN }}", additionalScopes: ["HeartBeats", "NewWorkConns"] },
      transport: { tls: { force: true }, tcpMux: true },
      allowPorts: [{ single: 53 }, { single: 443 }],
      maxPortsPerClient: 3,
      detailedErrorsToClient: true,
      log: { to: "console", level: "info", disablePrintColor: true },
    })
    expect(parsed).not.toHaveProperty("webServer")
  })

  it("refuses a control port that is a tunnel port", () => {
    expect(() => frpsConfig({ bindPort: 443, ports: [{ port: 443, protocol: "TCP" }] })).toThrow(/collides/)
  })
})

describe("frpc config", () => {
  const config = frpcConfig({
    serverAddr: "203.0.113.1",
    serverPort: 7001,
    localIP: "10.96.0.12",
    ports: [
      { name: "https", protocol: "TCP", port: 443, targetPort: 8443 },
      { name: "dns", protocol: "UDP", port: 53, targetPort: 5353 },
    ],
  })
  const parsed = parse(renderFrpcToml(config)) as Record<string, unknown>

  it("dials the server with the shared token and TLS, keeps retrying, names proxies per Pod, opens no admin API", () => {
    expect(parsed).not.toHaveProperty("webServer")
    expect(parsed).toMatchObject({
      serverAddr: "203.0.113.1",
      serverPort: 7001,
      loginFailExit: false,
      user: "{{ .Envs.POD_NAME }}",
      auth: { method: "token", token: "{{ .Envs.FRP_TOKEN }}", additionalScopes: ["HeartBeats", "NewWorkConns"] },
      transport: { protocol: "tcp", tls: { enable: true } },
    })
  })

  it("has one proxy per port: TCP in a load-balancing group, UDP without, no PROXY header of its own", () => {
    expect(parsed.proxies).toEqual([
      {
        name: "https",
        type: "tcp",
        localIP: "10.96.0.12",
        localPort: 8443,
        remotePort: 443,
        loadBalancer: { group: "https", groupKey: "{{ .Envs.FRP_TOKEN }}" },
      },
      { name: "dns", type: "udp", localIP: "10.96.0.12", localPort: 5353, remotePort: 53 },
    ])
    expect(renderFrpcToml(config)).not.toContain("proxyProtocolVersion")
  })

  it("escapes template syntax in user-derived values", () => {
    const escaped = frpcConfig({
      serverAddr: "203.0.113.1",
      serverPort: 7000,
      localIP: "{{ .Envs.FRP_TOKEN }}",
      ports: [{ name: "a", protocol: "TCP", port: 1, targetPort: 1 }],
    })
    expect(escaped.proxies[0]?.localIP).toBe("{{`{{`}} .Envs.FRP_TOKEN }}")
    expect(escapeTemplate("a{{{b}}")).toBe("a{{`{{`}}{b}}")
    expect(escapeTemplate("plain")).toBe("plain")
  })

  it("refuses proxy names that are not DNS labels", () => {
    expect(() =>
      frpcConfig({
        serverAddr: "203.0.113.1",
        serverPort: 7000,
        localIP: "10.0.0.1",
        ports: [{ name: 'x"\n[evil]', protocol: "TCP", port: 1, targetPort: 1 }],
      }),
    ).toThrow(/invalid proxy name/)
  })
})

describe("control ports", () => {
  it("takes 7000 when free and skips tunnel ports of any protocol", () => {
    expect(chooseControlPorts([80, 443])).toEqual([7000])
    expect(chooseControlPorts([7000, 7001, 7003], 3)).toEqual([7002, 7004, 7005])
  })

  it("never collides, whatever the tunnel ports", () => {
    for (let seed = 0; seed < 200; seed++) {
      const ports = Array.from({ length: 50 }, (_, index) => CONTROL_PORT_RANGE.first + ((seed * 7 + index * 13) % 60))
      const chosen = chooseControlPorts(ports, 10)
      expect(chosen).toHaveLength(10)
      expect(new Set(chosen).size).toBe(10)
      for (const port of chosen) expect(ports).not.toContain(port)
    }
  })
})

describe("where an frpc config dials", () => {
  it("reads the Go operator's frpc.toml (serverAddr, serverPort), and ours", () => {
    const goOperator = [
      'serverAddr = "137.66.1.1"',
      "serverPort = 7000",
      "",
      "[[proxies]]",
      'name = "envoy-gateway-http"',
      'type = "tcp"',
      'localIP = "envoy-gateway.envoy-gateway-system.svc.cluster.local"',
      "localPort = 80",
      "remotePort = 80",
    ].join("\n")
    expect(frpcServerOf(goOperator)).toEqual(Option.some({ addr: "137.66.1.1", port: 7000 }))
    const ours = renderFrpcToml(
      frpcConfig({ serverAddr: "203.0.113.1", serverPort: 7001, localIP: "10.0.0.1", ports: [] }),
    )
    expect(frpcServerOf(ours)).toEqual(Option.some({ addr: "203.0.113.1", port: 7001 }))
    expect(frpcServerOf('serverAddr = "203.0.113.1"')).toEqual(Option.some({ addr: "203.0.113.1", port: 7000 }))
  })

  it("is none for text that is not TOML or names no server", () => {
    expect(frpcServerOf("not = = toml")).toEqual(Option.none())
    expect(frpcServerOf("serverPort = 7000")).toEqual(Option.none())
    expect(frpcServerOf("serverAddr = 7")).toEqual(Option.none())
  })
})
