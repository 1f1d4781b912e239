import { decodeFlyTunnelSpecResult, Labels, MANAGED_BY } from "@fly-tunnel-operator/api"
import type { Machine } from "@fly-tunnel-operator/fly"
import { Env, renderFrpcToml } from "@fly-tunnel-operator/frp"
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { machinePlans } from "../src/tunnel/flyMachines.ts"
import { frpcConfigFor } from "../src/tunnel/frpcClient.ts"
import {
  clientRolledOut,
  type FrpcClientPlan,
  frpcDeployment,
  SPEC_HASH_ANNOTATION,
} from "../src/tunnel/frpcDeployment.ts"
import { configHashOf, controlPortOf, frpsMachineConfig } from "../src/tunnel/frpsMachineConfig.ts"
import {
  flyAppName,
  flyNetworkName,
  frpcDeploymentName,
  frpcObjectName,
  MachineMetadata,
  machineName,
  tunnelLabels,
} from "../src/tunnel/tunnelNames.ts"

const tunnel = { namespace: "default", name: "Web_Frontend.Public-Facing", uid: "0f5a2c7e-3b1d-4e8f-9a6b-1c2d3e4f5a6b" }
const spec = (input: object = {}) =>
  Result.getOrThrow(
    decodeFlyTunnelSpecResult({
      target: { service: { name: "web" } },
      ports: [
        { name: "https", port: 443, proxyProtocol: "v2" },
        { name: "dns", port: 53, protocol: "UDP" },
      ],
      regions: ["ord"],
      ...input,
    }),
  )

describe("names", () => {
  it("derives a valid, cluster-unique Fly App name and network from the UID", () => {
    const app = flyAppName(tunnel)
    expect(app).toBe(`fto-web-frontend-public-${tunnel.uid}`)
    expect(app.length).toBeLessThanOrEqual(63)
    expect(app).toMatch(/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/)
    expect(flyAppName({ ...tunnel, name: "---" })).toBe(`fto-tunnel-${tunnel.uid}`)
    expect(flyNetworkName(tunnel)).toBe(`fto-${tunnel.uid}`)
  })

  it("names Machines per region and frpc objects per tunnel and region, and labels them", () => {
    expect(machineName("ord")).toBe("frps-ord")
    expect(frpcObjectName(tunnel)).toBe(`frpc-${tunnel.uid}`)
    expect(frpcDeploymentName(tunnel, "ams")).toBe(`frpc-${tunnel.uid}-ams`)
    expect(tunnelLabels(tunnel)).toEqual({
      [Labels.managedBy]: MANAGED_BY,
      [Labels.tunnelUid]: tunnel.uid,
      [Labels.tunnelNamespace]: "default",
      [Labels.tunnelName]: tunnel.name,
    })
  })
})

describe("frpsMachineConfig", () => {
  const plan = { region: "ord", role: "tcp", controlPort: 7000 } as const
  const trustPem = "-----BEGIN CERTIFICATE-----\nQ0E=\n-----END CERTIFICATE-----\n"
  const secrets = (tokenDigest: string, tlsDigest = "tls-1") => ({ tokenDigest, tlsDigest, trustPem })
  const config = frpsMachineConfig(tunnel, spec(), plan, "frps:1", secrets("digest-1"))
  const udpPlan = { region: "ord", role: "udp", controlPort: 7001 } as const
  const udpConfig = frpsMachineConfig(tunnel, spec(), udpPlan, "frps:1", secrets("digest-1"))
  const frpsToml = (of: typeof config) => Buffer.from(of.files?.[0]?.raw_value ?? "", "base64").toString()

  it("runs frps with its config as a file and no token or private key in plain config", () => {
    expect(config).toMatchObject({
      image: "frps:1",
      guest: { cpu_kind: "shared", cpus: 1, memory_mb: 256 },
      init: { cmd: ["-c", "/etc/frp/frps.toml"] },
      restart: { policy: "always" },
      auto_destroy: false,
    })
    const toml = Buffer.from(config.files?.[0]?.raw_value ?? "", "base64").toString()
    expect(toml).toContain(`token = "{{ .Envs.${Env.token} }}"`)
    expect(JSON.stringify(config)).not.toContain("digest-1")
    // frps serves the operator-issued certificate and requires frpc's, from files Fly writes from app secrets.
    expect(toml).toContain('certFile = "/etc/frp/tls/frps.crt"')
    expect(toml).toContain('keyFile = "/etc/frp/tls/frps.key"')
    expect(toml).toContain('trustedCaFile = "/etc/frp/tls/ca.crt"')
    expect(config.files?.slice(1)).toEqual([
      { guest_path: "/etc/frp/tls/frps.crt", secret_name: "FRPS_TLS_CERT" },
      { guest_path: "/etc/frp/tls/frps.key", secret_name: "FRPS_TLS_KEY" },
      { guest_path: "/etc/frp/tls/ca.crt", raw_value: Buffer.from(trustPem).toString("base64") },
    ])
  })

  it("the TCP Machine publishes the control port and each TCP port with its check and handlers, and no UDP", () => {
    expect(config.services).toEqual([
      { protocol: "tcp", internal_port: 7000, ports: [{ port: 7000 }], autostart: true, autostop: "off" },
      {
        protocol: "tcp",
        internal_port: 443,
        ports: [{ port: 443, handlers: ["proxy_proto"], proxy_proto_options: { version: "v2" } }],
        autostart: true,
        autostop: "off",
        checks: [{ type: "tcp", port: 443, interval: "1s", timeout: "1s", grace_period: "500ms" }],
      },
    ])
    expect(frpsToml(config)).not.toContain("proxyBindAddr")
    expect(frpsToml(config)).toContain("[[allowPorts]]\nsingle = 443\n")
    expect(frpsToml(config)).not.toContain("single = 53")
    expect(config.metadata?.[MachineMetadata.role]).toBeUndefined()
  })

  it("puts Fly's edge handlers on a port: tls+http is tls then http, force_https only where the port asks for it", () => {
    const edged = frpsMachineConfig(
      tunnel,
      spec({
        ports: [
          { name: "https", port: 443, edge: "tls+http" },
          { name: "http", port: 80, edge: "http", forceHttps: true },
          { name: "plain", port: 8080, edge: "http" },
          { name: "tls", port: 8443, edge: "tls" },
        ],
      }),
      plan,
      "frps:1",
      secrets("digest-1"),
    )
    const ports = (edged.services ?? []).slice(1).map((service) => service.ports?.[0])
    // Strict: a port without forceHttps has no force_https key at all (not even an undefined one).
    expect(ports).toStrictEqual([
      { port: 443, handlers: ["tls", "http"] },
      { port: 80, handlers: ["http"], force_https: true },
      { port: 8080, handlers: ["http"] },
      { port: 8443, handlers: ["tls"] },
    ])
    expect(ports.map((port) => port !== undefined && "force_https" in port)).toEqual([false, true, false, false])
  })

  it("the UDP Machine binds its ports on fly-global-services, each on its own port, with a check on the control port", () => {
    expect(udpConfig.services).toEqual([
      {
        protocol: "tcp",
        internal_port: 7001,
        ports: [{ port: 7001 }],
        autostart: true,
        autostop: "off",
        checks: [{ type: "tcp", port: 7001, interval: "1s", timeout: "1s", grace_period: "500ms" }],
      },
      { protocol: "udp", internal_port: 53, ports: [{ port: 53 }], autostart: true, autostop: "off" },
    ])
    expect(frpsToml(udpConfig)).toContain('proxyBindAddr = "fly-global-services"')
    expect(frpsToml(udpConfig)).toContain("[[allowPorts]]\nsingle = 53\n")
    expect(frpsToml(udpConfig)).not.toContain("single = 443")
    expect(udpConfig.metadata).toMatchObject({ [MachineMetadata.region]: "ord", [MachineMetadata.role]: "udp" })
  })

  it("marks the Machine with the tunnel, the region and a hash that changes with the config, token or certificates only", () => {
    expect(config.metadata).toMatchObject({ [MachineMetadata.tunnelUid]: tunnel.uid, [MachineMetadata.region]: "ord" })
    const same = frpsMachineConfig(tunnel, spec(), plan, "frps:1", secrets("digest-1"))
    expect(configHashOf(same)).toBe(configHashOf(config))
    expect(configHashOf(frpsMachineConfig(tunnel, spec(), plan, "frps:1", secrets("digest-2")))).not.toBe(
      configHashOf(config),
    )
    expect(configHashOf(frpsMachineConfig(tunnel, spec(), plan, "frps:1", secrets("digest-1", "tls-2")))).not.toBe(
      configHashOf(config),
    )
    expect(
      configHashOf(
        frpsMachineConfig(tunnel, spec({ machineSize: "shared-cpu-2x" }), plan, "frps:1", secrets("digest-1")),
      ),
    ).not.toBe(configHashOf(config))
  })
})

describe("machinePlans", () => {
  const secrets = { tokenDigest: "t", tlsDigest: "c", trustPem: "" }
  /** The Machines a plan leads to, as Fly would list them. */
  const machinesOf = (of: ReturnType<typeof spec>, plans: ReturnType<typeof machinePlans>) =>
    plans.map(
      (plan, index): Machine => ({
        id: `m${index}`,
        instance_id: `i${index}`,
        name: machineName(plan.key),
        state: "started",
        region: plan.region,
        config: frpsMachineConfig(tunnel, of, plan, "frps:1", secrets),
      }),
    )
  const portsOf = (plans: ReturnType<typeof machinePlans>) =>
    Object.fromEntries(plans.map((plan) => [plan.key, plan.controlPort]))

  it("gives a new tunnel the first free ports, skipping its own ports", () => {
    expect(portsOf(machinePlans(spec({ ports: [{ name: "a", port: 7000 }], regions: ["ord", "ams"] })))).toEqual({
      ord: 7001,
      ams: 7002,
    })
  })

  it("keeps each existing slot's port when regions come and go, and gives new slots free ones", () => {
    const one = spec({ regions: ["ord"] })
    const existing = machinesOf(one, machinePlans(one))
    expect(existing.map(controlPortOf)).toEqual([7000, 7001])
    // By slot order a new region would take 7001 from ord-udp: it keeps it, and ams takes the next free port.
    const grown = machinePlans(spec({ regions: ["ams", "ord"] }), existing)
    expect(portsOf(grown)).toEqual({ ams: 7002, ord: 7000, "ams-udp": 7003, "ord-udp": 7001 })
    // A dropped slot frees its port for a later one.
    const shrunk = machinePlans(
      spec({ regions: ["ams"] }),
      machinesOf(spec({ regions: ["ams", "ord"] }), grown).slice(0, 1),
    )
    expect(portsOf(shrunk)).toEqual({ ams: 7002, "ams-udp": 7000 })
  })

  it("moves only the slot whose port became a tunnel port", () => {
    const one = spec({ regions: ["ord"] })
    const existing = machinesOf(one, machinePlans(one))
    const plans = machinePlans(
      spec({
        regions: ["ord"],
        ports: [
          { name: "https", port: 443 },
          { name: "dns", port: 53, protocol: "UDP" },
          { name: "admin", port: 7000 },
        ],
      }),
      existing,
    )
    expect(portsOf(plans)).toEqual({ ord: 7002, "ord-udp": 7001 })
  })
})

describe("frpcConfigFor", () => {
  const both = spec({ regions: ["ord"] })
  const configOf = (role: "tcp" | "udp", controlPort: number) =>
    frpcConfigFor(tunnel, both, "203.0.113.7", { region: "ord", role, controlPort }, "10.96.0.10")

  it("the UDP frpc exits when its first login fails (how its readiness is known); the TCP one keeps retrying", () => {
    const udp = configOf("udp", 7001)
    const tcp = configOf("tcp", 7000)
    expect(udp.loginFailExit).toBe(true)
    expect(tcp.loginFailExit).toBe(false)
    expect(renderFrpcToml(udp)).toMatch(/^loginFailExit = true$/m)
    expect(renderFrpcToml(tcp)).toMatch(/^loginFailExit = false$/m)
  })

  it("each dials its own Machine's control port and registers only the ports that Machine serves", () => {
    const udp = configOf("udp", 7001)
    const tcp = configOf("tcp", 7000)
    expect([udp.serverAddr, udp.serverPort, tcp.serverAddr, tcp.serverPort]).toEqual([
      "203.0.113.7",
      7001,
      "203.0.113.7",
      7000,
    ])
    expect(udp.proxies.map((proxy) => [proxy.type, proxy.remotePort])).toEqual([["udp", 53]])
    expect(tcp.proxies.map((proxy) => [proxy.type, proxy.remotePort])).toEqual([["tcp", 443]])
  })
})

describe("frpcDeployment", () => {
  const client: FrpcClientPlan = { slot: { region: "ord", role: "tcp" }, toml: "serverAddr = '203.0.113.7'" }
  const deployment = frpcDeployment(tunnel, spec({ frpc: { replicas: 2 } }), "frpc:1", "fto", client, "digest-1")
  const container = deployment.spec?.template.spec?.containers[0]

  it("runs the region's frpc, as Pod Security 'restricted' asks, with the token from the Secret only", () => {
    expect(deployment.metadata).toMatchObject({ name: frpcDeploymentName(tunnel, "ord"), namespace: "fto" })
    expect(deployment.spec?.replicas).toBe(2)
    expect(deployment.spec?.template.spec?.securityContext).toMatchObject({
      runAsNonRoot: true,
      seccompProfile: { type: "RuntimeDefault" },
    })
    expect(container?.securityContext).toEqual({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      capabilities: { drop: ["ALL"] },
    })
    expect(container?.env?.find((env) => env.name === Env.token)?.valueFrom?.secretKeyRef).toEqual({
      name: frpcObjectName(tunnel),
      key: "token",
    })
    expect(JSON.stringify(deployment)).not.toContain("digest-1")
    expect(deployment.spec?.template.spec?.automountServiceAccountToken).toBe(false)
  })

  it("rolls TCP frpc Pods over without a gap, and defaults the resources", () => {
    expect(deployment.spec?.strategy).toEqual({
      type: "RollingUpdate",
      rollingUpdate: { maxSurge: 1, maxUnavailable: 0 },
    })
    expect(deployment.spec?.minReadySeconds).toBeUndefined()
    expect(container?.resources).toEqual({ requests: { cpu: "10m", memory: "32Mi" }, limits: { memory: "128Mi" } })
  })

  it("runs one UDP frpc per UDP Machine, replaced rather than overlapped, available only once it stayed up", () => {
    const udp = frpcDeployment(
      tunnel,
      spec({ frpc: { replicas: 2 } }),
      "frpc:1",
      "fto",
      { slot: { region: "ord", role: "udp" }, toml: "" },
      "d",
    )
    expect(udp.metadata?.name).toBe(frpcDeploymentName(tunnel, "ord-udp"))
    expect(udp.spec?.replicas).toBe(1)
    expect(udp.spec?.strategy).toEqual({ type: "Recreate" })
    expect(udp.spec?.minReadySeconds).toBe(15)
    expect(udp.spec?.selector.matchLabels?.["fly-tunnel-operator.dev/role"]).toBe("udp")
    expect(udp.spec?.template.spec?.volumes?.[0]?.secret?.items).toEqual([
      { key: "frpc-ord-udp.toml", path: "frpc.toml" },
    ])
    // The TCP frpc's selector is what it was before UDP had its own Machine (selectors cannot change).
    expect(deployment.spec?.selector.matchLabels?.["fly-tunnel-operator.dev/role"]).toBeUndefined()
  })

  it("rolls the Pods when the config or the token changes, and records a hash of itself", () => {
    const annotations = (digest: string, toml = client.toml) =>
      frpcDeployment(tunnel, spec(), "frpc:1", "fto", { ...client, toml }, digest).spec?.template.metadata?.annotations
    expect(annotations("digest-1")).toEqual(annotations("digest-1"))
    expect(annotations("digest-2")).not.toEqual(annotations("digest-1"))
    expect(annotations("digest-1", "changed")).not.toEqual(annotations("digest-1"))
    expect(deployment.metadata?.annotations?.[SPEC_HASH_ANNOTATION]).toMatch(/^[0-9a-f]{16}$/)
  })

  it("counts as rolled out only when the current generation is available in full", () => {
    const at = (generation: number, status: object) => ({
      ...deployment,
      metadata: { ...deployment.metadata, generation },
      status,
    })
    expect(clientRolledOut(at(2, { observedGeneration: 2, updatedReplicas: 2, availableReplicas: 2 }))).toBe(true)
    expect(clientRolledOut(at(3, { observedGeneration: 2, updatedReplicas: 2, availableReplicas: 2 }))).toBe(false)
    expect(clientRolledOut(at(2, { observedGeneration: 2, updatedReplicas: 2, availableReplicas: 1 }))).toBe(false)
  })
})
