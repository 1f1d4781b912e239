import { describe, expect, it } from "vitest"
import { parse } from "yaml"
import { renderKubeconfig } from "../src/controlPlane/kubeconfig.ts"
import { firstServiceIp } from "../src/controlPlane/serviceCidr.ts"

describe("firstServiceIp", () => {
  it("is the network address plus one", () => {
    expect(firstServiceIp("10.96.0.0/16")).toBe("10.96.0.1")
    expect(firstServiceIp("127.100.0.0/16")).toBe("127.100.0.1")
    expect(firstServiceIp("192.168.7.128/25")).toBe("192.168.7.129")
  })

  it("masks host bits of a non-canonical CIDR", () => {
    expect(firstServiceIp("10.96.3.7/16")).toBe("10.96.0.1")
  })

  it("refuses what is not an IPv4 CIDR", () => {
    expect(() => firstServiceIp("fd00::/108")).toThrow(/IPv4/)
    expect(() => firstServiceIp("10.96.0.0")).toThrow(/IPv4/)
    expect(() => firstServiceIp("10.96.0.0/31")).toThrow(/IPv4/)
  })
})

describe("renderKubeconfig", () => {
  it("inlines the CA and a client certificate", () => {
    const config = parse(
      renderKubeconfig({
        server: "https://127.0.0.1:6443",
        caPem: "CA",
        user: "admin",
        credentials: { clientCertificatePem: "CERT", clientKeyPem: "KEY" },
      }),
    )
    expect(config["current-context"]).toBe("admin")
    expect(config.clusters[0].cluster).toEqual({
      server: "https://127.0.0.1:6443",
      "certificate-authority-data": Buffer.from("CA").toString("base64"),
    })
    expect(config.users[0]).toEqual({
      name: "admin",
      user: {
        "client-certificate-data": Buffer.from("CERT").toString("base64"),
        "client-key-data": Buffer.from("KEY").toString("base64"),
      },
    })
  })

  it("carries a bearer token as is", () => {
    const config = parse(
      renderKubeconfig({ server: "https://127.0.0.1:1", caPem: "CA", user: "sa", credentials: { token: "t0k" } }),
    )
    expect(config.users[0].user).toEqual({ token: "t0k" })
  })
})
