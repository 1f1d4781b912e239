import { describe, expect, it } from "vitest"
import { plainAddress, proxyHeaderV1, proxyHeaderV2 } from "../src/proxy/proxyHeader.ts"
import { parseProxyHeader } from "./proxyHeaderParser.ts"

const source = { address: "198.51.100.7", port: 51234 }
const destination = { address: "203.0.113.9", port: 443 }

describe("PROXY protocol headers", () => {
  it("writes v1 as one text line", () => {
    expect(proxyHeaderV1(source, destination).toString()).toBe("PROXY TCP4 198.51.100.7 203.0.113.9 51234 443\r\n")
    expect(proxyHeaderV1({ address: "::ffff:198.51.100.7", port: 1 }, destination).toString()).toContain(
      "TCP4 198.51.100.7",
    )
    expect(proxyHeaderV1({ address: "2001:db8::1", port: 1 }, { address: "2001:db8::2", port: 2 }).toString()).toBe(
      "PROXY TCP6 2001:db8::1 2001:db8::2 1 2\r\n",
    )
  })

  it("writes v2 in binary, IPv4 and IPv6", () => {
    const v4 = proxyHeaderV2(source, destination)
    expect(v4).toHaveLength(16 + 12)
    expect(parseProxyHeader(Buffer.concat([v4, Buffer.from("data")]))).toMatchObject({
      version: 2,
      family: "TCP4",
      source: "198.51.100.7",
      sourcePort: 51234,
      destination: "203.0.113.9",
      destinationPort: 443,
      rest: Buffer.from("data"),
    })
    const v6 = parseProxyHeader(
      proxyHeaderV2({ address: "2001:db8::1", port: 5 }, { address: "2001:db8:f1e::a", port: 6 }),
    )
    expect(v6).toMatchObject({
      family: "TCP6",
      source: "2001:db8:0:0:0:0:0:1",
      destination: "2001:db8:f1e:0:0:0:0:a",
      sourcePort: 5,
      destinationPort: 6,
    })
  })

  it("unwraps IPv4-mapped addresses only", () => {
    expect(plainAddress("::ffff:10.0.0.1")).toBe("10.0.0.1")
    expect(plainAddress("::ffff:abcd")).toBe("::ffff:abcd")
  })
})
