import {
  type CertificateStatus,
  decodeFlyTunnelSpecResult,
  type FlyTunnelSpec,
  Reasons,
} from "@fly-tunnel-operator/api"
import type { App, Machine } from "@fly-tunnel-operator/fly"
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { certificateStatus } from "../src/tunnel/flyCertificates.ts"
import type { TunnelMachine } from "../src/tunnel/flyMachines.ts"
import { TunnelBlocked } from "../src/tunnel/tunnelBlocked.ts"
import { isReady, type Observations, teardownStatus, tunnelStatus } from "../src/tunnel/tunnelStatus.ts"

const EARLIER = "2026-01-01T00:00:00Z"
/** A hostname's ACME challenge CNAME and ownership TXT, as Fly gives them. */
const acmeChallenge = { name: "_acme-challenge.shop.example.com", target: "shop.example.com.x1y2z3.flydns.net" }
const ownership = { name: "_fly-ownership.shop.example.com", value: "app-4k2m9x" }
const NOW = "2026-01-02T00:00:00Z"

const spec: FlyTunnelSpec = Result.getOrThrow(
  decodeFlyTunnelSpecResult({
    target: { service: { name: "web" } },
    ports: [{ name: "http", port: 80 }],
    regions: ["ord", "ams"],
  }),
)
const app: App = { id: "app-1", name: "fto-web-uid", network: "fto-uid" }
const machine = (region: string, state: string, checks: Machine["checks"] = []): TunnelMachine => ({
  machine: {
    id: `m-${region}`,
    name: `frps-${region}`,
    state,
    region,
    instance_id: `i-${region}`,
    config: { image: "frps" },
    checks,
  },
  slot: { region, role: "tcp" },
  controlPort: region === "ord" ? 7000 : 7001,
  current: true,
})
const passing = [{ name: "servicecheck-00-tcp-80", status: "passing" }]

const converged: Observations = {
  generation: 3,
  spec,
  app,
  token: { secretsVersion: 2, tokenDigest: "abc", tlsDigest: "def", cluster: "c1" },
  machines: [machine("ord", "started", passing), machine("ams", "started", passing)],
  address: "203.0.113.7",
  ipv6: "2001:db8:f1e::7",
  clientRolledOut: true,
  blocked: [],
}
const condition = (status: ReturnType<typeof tunnelStatus>, type: string) =>
  status.conditions?.find((item) => item.type === type)

describe("tunnelStatus", () => {
  it("is Ready when every part is, with the App, Machines, address and display fields", () => {
    const status = tunnelStatus(converged, undefined, NOW)
    expect(status).toMatchObject({
      observedGeneration: 3,
      phase: "Ready",
      target: "svc/web",
      regions: "ord,ams",
      app: { name: "fto-web-uid", network: "fto-uid", id: "app-1", secretsVersion: 2, tokenDigest: "abc" },
      machines: [
        { id: "m-ord", region: "ord", state: "started", instanceId: "i-ord", controlPort: 7000, upToDate: true },
        { id: "m-ams", region: "ams", state: "started", instanceId: "i-ams", controlPort: 7001, upToDate: true },
      ],
      addresses: [
        { ip: "203.0.113.7", type: "v4" },
        { ip: "2001:db8:f1e::7", type: "v6" },
      ],
    })
    expect(status.conditions?.map((item) => [item.type, item.status])).toEqual([
      ["Ready", "True"],
      ["AppReady", "True"],
      ["MachinesReady", "True"],
      ["AddressReady", "True"],
      ["ClientReady", "True"],
    ])
    expect(isReady(status)).toBe(true)
  })

  it("waits for the IPv6 unless the spec opts out, and says UDP stays on the IPv4", () => {
    const { ipv6: _none, ...withoutIpv6 } = converged
    const waiting = tunnelStatus(withoutIpv6, undefined, NOW)
    expect(condition(waiting, "AddressReady")).toMatchObject({
      status: "False",
      reason: "Provisioning",
      message: "allocating an IPv6",
    })
    const optedOut = tunnelStatus({ ...withoutIpv6, spec: { ...spec, ipv6: false } }, undefined, NOW)
    expect(condition(optedOut, "AddressReady")?.status).toBe("True")
    expect(optedOut.addresses).toEqual([{ ip: "203.0.113.7", type: "v4" }])
    const udp = tunnelStatus(
      {
        ...converged,
        spec: {
          ...spec,
          ports: [...spec.ports, { name: "dns", port: 53, protocol: "UDP", proxyProtocol: "none", edge: "none" }],
        },
      },
      undefined,
      NOW,
    )
    expect(condition(udp, "AddressReady")?.message).toBe(
      "dedicated IPv4 203.0.113.7 and IPv6 2001:db8:f1e::7 (UDP ports on the IPv4 only: Fly carries no UDP over IPv6)",
    )
  })

  it("waits for frpc while a Machine's check does not pass yet", () => {
    const status = tunnelStatus(
      {
        ...converged,
        machines: [
          machine("ord", "started", passing),
          machine("ams", "started", [{ name: "servicecheck-00-tcp-80", status: "critical" }]),
        ],
      },
      undefined,
      NOW,
    )
    expect(condition(status, "ClientReady")).toMatchObject({ status: "False", reason: Reasons.ClientDeploying })
    expect(status.phase).toBe("Provisioning")
  })

  it("is not Ready until every TCP port's check exists and passes on every started Machine", () => {
    const twoPorts: FlyTunnelSpec = Result.getOrThrow(
      decodeFlyTunnelSpecResult({
        target: { service: { name: "web" } },
        ports: [
          { name: "http", port: 80 },
          { name: "https", port: 443 },
          { name: "dns", port: 53, protocol: "UDP" },
        ],
        regions: ["ord"],
      }),
    )
    const withChecks = (checks: Machine["checks"]) =>
      tunnelStatus({ ...converged, spec: twoPorts, machines: [machine("ord", "started", checks)] }, undefined, NOW)
    // No check has run yet: nothing says bytes flow.
    expect(condition(withChecks([]), "ClientReady")).toMatchObject({
      status: "False",
      reason: Reasons.ClientDeploying,
      message: "frpc is running; waiting for Fly's checks to pass on m-ord (ord): port 80, 443",
    })
    // One port passing, the other not listed: still waiting, naming the port.
    expect(condition(withChecks([{ name: "servicecheck-00-tcp-80", status: "passing" }]), "ClientReady")).toMatchObject(
      { status: "False", message: "frpc is running; waiting for Fly's checks to pass on m-ord (ord): port 443" },
    )
    // A passing check of another port or type does not stand in for a tunnel port's.
    const unrelated = withChecks([
      { name: "servicecheck-00-tcp-80", status: "passing" },
      { name: "servicecheck-01-http-443", status: "passing" },
      { name: "servicecheck-02-tcp-8443", status: "passing" },
    ])
    expect(isReady(unrelated)).toBe(false)
    const all = withChecks([
      { name: "servicecheck-00-tcp-80", status: "passing" },
      { name: "servicecheck-01-tcp-443", status: "passing" },
    ])
    expect(isReady(all)).toBe(true)
  })

  it("a UDP-only tunnel is Ready only once its UDP Machine's control-port check passes and its UDP frpc has rolled out", () => {
    // UDP has no Fly check: the UDP Machine's TCP check on its control port says frps runs and is reachable, and the
    // UDP frpc's Deployment is available only once its Pod stayed up past a login (loginFailExit, minReadySeconds).
    const udpOnly: FlyTunnelSpec = Result.getOrThrow(
      decodeFlyTunnelSpecResult({
        target: { service: { name: "dns" } },
        ports: [{ name: "dns", port: 53, protocol: "UDP" }],
        regions: ["ord"],
      }),
    )
    const udpMachine = (checks: Machine["checks"]): TunnelMachine => ({
      ...machine("ord", "started", checks),
      slot: { region: "ord", role: "udp" },
      controlPort: 7000,
    })
    const statusWith = (checks: Machine["checks"], clientRolledOut: boolean) =>
      tunnelStatus({ ...converged, spec: udpOnly, machines: [udpMachine(checks)], clientRolledOut }, undefined, NOW)
    const controlPortPassing = [{ name: "servicecheck-00-tcp-7000", status: "passing" }]

    // Started and its frpc rolled out, but the control port's check has not passed: not Ready, and it says why.
    const unchecked = statusWith([], true)
    expect(isReady(unchecked)).toBe(false)
    expect(condition(unchecked, "ClientReady")).toMatchObject({
      status: "False",
      reason: Reasons.ClientDeploying,
      message: "frpc is running; waiting for Fly's checks to pass on m-ord (ord-udp): port 7000",
    })
    // A check that is there but critical, or a passing check of another port, does not count either.
    expect(isReady(statusWith([{ name: "servicecheck-00-tcp-7000", status: "critical" }], true))).toBe(false)
    expect(isReady(statusWith([{ name: "servicecheck-00-tcp-53", status: "passing" }], true))).toBe(false)
    // The check passes but the UDP frpc has not rolled out (its Pod has not stayed up past minReadySeconds): not Ready.
    const notRolledOut = statusWith(controlPortPassing, false)
    expect(isReady(notRolledOut)).toBe(false)
    expect(condition(notRolledOut, "ClientReady")).toMatchObject({
      status: "False",
      message: "waiting for the frpc Deployment to roll out",
    })
    // Both: Ready.
    expect(isReady(statusWith(controlPortPassing, true))).toBe(true)
  })

  it("says which step is blocked, and a permanent block makes the phase Failed", () => {
    const blocked = new TunnelBlocked({
      condition: "AppReady",
      reason: Reasons.AppNameTaken,
      message: "not ours",
      retry: false,
    })
    const status = tunnelStatus({ generation: 1, spec, blocked: [blocked] }, undefined, NOW)
    expect(condition(status, "AppReady")).toMatchObject({
      status: "False",
      reason: Reasons.AppNameTaken,
      message: "not ours",
    })
    expect(condition(status, "Ready")).toMatchObject({ status: "False", reason: Reasons.AppNameTaken })
    expect(status.phase).toBe("Failed")
  })

  it("is Pending before anything is known, and keeps what it could not observe this time", () => {
    expect(tunnelStatus({ generation: 1, blocked: [] }, undefined, NOW).phase).toBe("Pending")
    const previous = tunnelStatus(converged, undefined, EARLIER)
    const partial = tunnelStatus({ generation: 4, spec, app, blocked: [] }, previous, NOW)
    expect(partial.machines).toEqual(previous.machines)
    expect(partial.addresses).toEqual(previous.addresses)
    // The token recorded for this same App is kept; for another App it is not.
    expect(partial.app).toMatchObject({ secretsVersion: 2, tokenDigest: "abc" })
    const rebuilt = tunnelStatus({ generation: 4, spec, app: { ...app, id: "app-2" }, blocked: [] }, previous, NOW)
    expect(rebuilt.app).toEqual({ name: "fto-web-uid", network: "fto-uid", id: "app-2" })
  })

  it("keeps a condition's transition time while its status stands, and moves it when it flips", () => {
    const first = tunnelStatus({ ...converged, clientRolledOut: false }, undefined, EARLIER)
    const second = tunnelStatus({ ...converged, clientRolledOut: false }, first, NOW)
    expect(condition(second, "ClientReady")?.lastTransitionTime).toBe(EARLIER)
    const ready = tunnelStatus(converged, second, NOW)
    expect(condition(ready, "ClientReady")).toMatchObject({ status: "True", lastTransitionTime: NOW })
    expect(condition(ready, "AppReady")?.lastTransitionTime).toBe(EARLIER)
  })
})

describe("CertificatesReady", () => {
  const edgeSpec: FlyTunnelSpec = Result.getOrThrow(
    decodeFlyTunnelSpecResult({
      target: { service: { name: "shop" } },
      ports: [{ name: "https", port: 443, edge: "tls" }],
      regions: ["ord"],
      hostnames: ["shop.example.com"],
    }),
  )
  const pendingWith = (dnsRequirements: CertificateStatus["dnsRequirements"]) =>
    condition(
      tunnelStatus(
        {
          ...converged,
          spec: edgeSpec,
          certificates: [
            {
              hostname: "shop.example.com",
              status: "pending_validation",
              ...(dnsRequirements === undefined ? {} : { dnsRequirements }),
            },
          ],
        },
        undefined,
        NOW,
      ),
      "CertificatesReady",
    )

  it("names every DNS record Fly asks for: A and AAAA or the CNAME, the ACME challenge CNAME, the ownership TXT", () => {
    const pending = pendingWith({
      a: ["203.0.113.7"],
      aaaa: ["2001:db8:f1e::7"],
      cname: "fto-web-uid.fly.dev",
      acmeChallenge,
      ownership,
    })
    expect(pending).toMatchObject({ status: "False", reason: Reasons.CertificatePending })
    expect(pending?.message).toBe(
      "shop.example.com waits for DNS: A 203.0.113.7, AAAA 2001:db8:f1e::7, or CNAME fto-web-uid.fly.dev; " +
        "or CNAME _acme-challenge.shop.example.com → shop.example.com.x1y2z3.flydns.net; " +
        'ownership: TXT _fly-ownership.shop.example.com "app-4k2m9x"',
    )
  })

  it("names only the records Fly gave: no ownership TXT when Fly asks for none, no dangling separator", () => {
    expect(pendingWith({ a: ["203.0.113.7"], cname: "fto-web-uid.fly.dev", acmeChallenge })?.message).toBe(
      "shop.example.com waits for DNS: A 203.0.113.7, or CNAME fto-web-uid.fly.dev; " +
        "or CNAME _acme-challenge.shop.example.com → shop.example.com.x1y2z3.flydns.net",
    )
    expect(pendingWith({ acmeChallenge, ownership })?.message).toBe(
      "shop.example.com waits for DNS: CNAME _acme-challenge.shop.example.com → shop.example.com.x1y2z3.flydns.net; " +
        'ownership: TXT _fly-ownership.shop.example.com "app-4k2m9x"',
    )
    expect(pendingWith(undefined)?.message).toBe("shop.example.com is pending_validation")
  })
})

describe("certificateStatus", () => {
  it("keeps every record of Fly's dns_requirements until issued: A, AAAA, CNAME, ACME challenge, ownership TXT", () => {
    const detail = {
      hostname: "shop.example.com",
      status: "pending_validation",
      rate_limited_until: null,
      dns_requirements: {
        a: ["203.0.113.7"],
        aaaa: ["2001:db8:f1e::7"],
        cname: "fto-web-uid.fly.dev",
        acme_challenge: acmeChallenge,
        ownership: { name: ownership.name, app_value: ownership.value, org_value: "org-personal" },
      },
      validation_errors: [],
    }
    expect(certificateStatus(detail)).toStrictEqual({
      hostname: "shop.example.com",
      status: "pending_validation",
      dnsRequirements: {
        a: ["203.0.113.7"],
        aaaa: ["2001:db8:f1e::7"],
        cname: "fto-web-uid.fly.dev",
        acmeChallenge: acmeChallenge,
        // The App's value: the record proves the name is this App's, not merely the organization's.
        ownership,
      },
    })
    // Without an ownership record from Fly there is none to show; once issued, nothing is asked for.
    const { ownership: _, ...withoutOwnership } = detail.dns_requirements
    expect(
      certificateStatus({ ...detail, dns_requirements: withoutOwnership }).dnsRequirements?.ownership,
    ).toBeUndefined()
    expect(certificateStatus({ ...detail, status: "active" })).toStrictEqual({
      hostname: "shop.example.com",
      status: "active",
    })
  })
})

describe("teardownStatus", () => {
  it("says Deleting, then why a failed teardown keeps the finalizer, leaving the rest as it was", () => {
    const previous = tunnelStatus(converged, undefined, EARLIER)
    const deleting = teardownStatus(previous, 3, undefined, NOW)
    expect(deleting).toMatchObject({ phase: "Deleting", addresses: previous.addresses, app: previous.app })
    expect(condition(deleting, "Ready")).toMatchObject({
      status: "False",
      reason: Reasons.Deleting,
      lastTransitionTime: NOW,
    })
    const failure = new TunnelBlocked({
      condition: "Ready",
      reason: Reasons.DeleteFailed,
      message: "teardown stopped: 500",
      retry: true,
    })
    const failed = teardownStatus(deleting, 3, failure, "2026-01-03T00:00:00Z")
    expect(condition(failed, "Ready")).toMatchObject({
      reason: Reasons.DeleteFailed,
      message: "teardown stopped: 500",
      lastTransitionTime: NOW,
    })
    expect(failed.conditions?.filter((item) => item.type === "Ready")).toHaveLength(1)
  })
})
