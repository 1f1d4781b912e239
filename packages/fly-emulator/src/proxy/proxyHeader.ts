import { isIPv4 } from "node:net"

export interface Endpoint {
  readonly address: string
  readonly port: number
}

/** `::ffff:1.2.3.4` (an IPv4 client on a dual-stack socket) is the IPv4 client 1.2.3.4. */
export const plainAddress = (address: string): string => address.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, "")

/** PROXY protocol v1: one text line (haproxy proxy-protocol.txt §2.1). */
export const proxyHeaderV1 = (source: Endpoint, destination: Endpoint): Buffer => {
  const [src, dst] = [plainAddress(source.address), plainAddress(destination.address)]
  const family = isIPv4(src) && isIPv4(dst) ? "TCP4" : "TCP6"
  return Buffer.from(`PROXY ${family} ${src} ${dst} ${source.port} ${destination.port}\r\n`, "ascii")
}

const signature = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a])

const ipv6Bytes = (address: string): Buffer => {
  const mapped = isIPv4(address) ? `::ffff:${address}` : address
  const [head = "", tail = ""] = mapped.split("::")
  const groups = (part: string) => (part === "" ? [] : part.split(":"))
  const expand = (part: string): Array<string> =>
    groups(part).flatMap((group) => {
      if (!isIPv4(group)) return [group]
      const [a = 0, b = 0, c = 0, d = 0] = group.split(".").map(Number)
      return [((a << 8) | b).toString(16), ((c << 8) | d).toString(16)]
    })
  const [left, right] = [expand(head), expand(tail)]
  const all = mapped.includes("::") ? [...left, ...Array(8 - left.length - right.length).fill("0"), ...right] : left
  const bytes = Buffer.alloc(16)
  for (const [i, group] of all.entries()) bytes.writeUInt16BE(Number.parseInt(group, 16), i * 2)
  return bytes
}

/** PROXY protocol v2: the binary header, command PROXY, stream over IPv4 or IPv6 (§2.2). */
export const proxyHeaderV2 = (source: Endpoint, destination: Endpoint): Buffer => {
  const [src, dst] = [plainAddress(source.address), plainAddress(destination.address)]
  const v4 = isIPv4(src) && isIPv4(dst)
  const addresses = v4
    ? Buffer.concat([Buffer.from(src.split(".").map(Number)), Buffer.from(dst.split(".").map(Number))])
    : Buffer.concat([ipv6Bytes(src), ipv6Bytes(dst)])
  const ports = Buffer.alloc(4)
  ports.writeUInt16BE(source.port, 0)
  ports.writeUInt16BE(destination.port, 2)
  const length = Buffer.alloc(2)
  length.writeUInt16BE(addresses.length + ports.length)
  return Buffer.concat([signature, Buffer.from([0x21, v4 ? 0x11 : 0x21]), length, addresses, ports])
}
