import { describe, expect, it } from "vitest"
import { addressRefusal, EMPTY_CLUSTER_RANGES, hostNameRefusal } from "../src/policy/addressRules.ts"
import { parseIpRanges } from "../src/policy/ipRange.ts"
import { DEFAULT_TUNNEL_POLICY } from "../src/policy/tunnelPolicy.ts"

const policy = DEFAULT_TUNNEL_POLICY.addressTargets
const cluster = {
  serviceRanges: parseIpRanges(["10.96.0.0/16", "fd00:96::/112"]),
  podRanges: parseIpRanges(["10.244.1.0/24"]),
  apiServerAddresses: ["192.168.49.2"],
}

describe("address rules", () => {
  it.each([
    ["127.0.0.1", "loopback"],
    ["127.53.0.9", "loopback"],
    ["::1", "loopback"],
    ["::ffff:127.0.0.1", "loopback"],
    ["169.254.169.254", "link-local"],
    ["::ffff:169.254.169.254", "link-local"],
    ["fe80::1", "link-local"],
    ["febf::1", "link-local"],
    ["0.0.0.0", "unspecified"],
    ["::", "unspecified"],
    ["224.0.0.251", "multicast"],
    ["ff02::1", "multicast"],
    ["255.255.255.255", "broadcast"],
  ])("refuses %s whatever the values say (%s)", (address, what) => {
    const everything = { ...policy, allowedRanges: parseIpRanges(["0.0.0.0/0", "::/0"]) }
    expect(addressRefusal(address, everything, EMPTY_CLUSTER_RANGES)).toContain(`is ${what}`)
    expect(addressRefusal(address, everything, EMPTY_CLUSTER_RANGES)).toContain("never published")
  })

  it("refuses the cluster's own ranges as discovered, and the API server's address", () => {
    expect(addressRefusal("10.96.0.10", policy, cluster)).toContain("the cluster's Service range 10.96.0.0/16")
    expect(addressRefusal("fd00:96::a", policy, cluster)).toContain("the cluster's Service range fd00:96::/112")
    expect(addressRefusal("10.244.1.7", policy, cluster)).toContain("the cluster's Pod range 10.244.1.0/24")
    expect(addressRefusal("192.168.49.2", policy, cluster)).toContain("the Kubernetes API server's address")
    // The same addresses are ordinary LAN addresses in a cluster that does not use them.
    for (const address of ["10.96.0.10", "fd00:96::a", "10.244.1.7", "192.168.49.2"]) {
      expect(addressRefusal(address, policy, EMPTY_CLUSTER_RANGES)).toBeUndefined()
    }
  })

  it("allows the private ranges and ULA by default and nothing else; refusedCIDRs win", () => {
    for (const address of ["10.1.2.3", "172.16.0.1", "172.31.255.254", "192.168.1.20", "fd12:3456::1"]) {
      expect(addressRefusal(address, policy, EMPTY_CLUSTER_RANGES)).toBeUndefined()
    }
    for (const address of ["8.8.8.8", "172.32.0.1", "100.64.0.1", "2001:db8::1", "203.0.113.9"]) {
      expect(addressRefusal(address, policy, EMPTY_CLUSTER_RANGES)).toContain(
        "outside the ranges address targets may use (chart value addressTargets.allowedCIDRs: 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, fc00::/7)",
      )
    }
    const stricter = { ...policy, refusedRanges: parseIpRanges(["192.168.1.0/24"]) }
    expect(addressRefusal("192.168.1.20", stricter, EMPTY_CLUSTER_RANGES)).toContain(
      "chart value addressTargets.refusedCIDRs",
    )
  })

  it("refuses cluster names always and other names unless a suffix allows them", () => {
    const names = { ...policy, allowedHostnames: ["lan.example.com", ".home.arpa"] }
    for (const host of [
      "localhost",
      "web.localhost",
      "web.default.svc",
      "web.default.svc.cluster.local",
      "cluster.local",
    ]) {
      expect(hostNameRefusal(host, names)).toContain("never published")
    }
    expect(hostNameRefusal("nas.lan.example.com", names)).toBeUndefined()
    expect(hostNameRefusal("lan.example.com", names)).toBeUndefined()
    expect(hostNameRefusal("printer.home.arpa", names)).toBeUndefined()
    expect(hostNameRefusal("evil-lan.example.com", names)).toContain("addressTargets.allowedHostnames")
    expect(hostNameRefusal("nas.lan.example.com", policy)).toContain(
      "(chart value addressTargets.allowedHostnames: none)",
    )
  })
})
