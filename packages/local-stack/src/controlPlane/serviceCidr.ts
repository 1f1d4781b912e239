import { isIPv4 } from "node:net"

/**
 * The first usable address of an IPv4 CIDR: the apiserver gives it to the `kubernetes` Service,
 * so it must be in the serving certificate.
 */
export const firstServiceIp = (cidr: string): string => {
  const [network, prefix] = cidr.split("/")
  const bits = Number(prefix)
  if (network === undefined || !isIPv4(network) || !Number.isInteger(bits) || bits < 1 || bits > 30) {
    throw new Error(`service CIDR must be IPv4 a.b.c.d/1-30, got ${cidr}`)
  }
  const value = network.split(".").reduce((acc, octet) => acc * 256 + Number(octet), 0)
  const size = 2 ** (32 - bits)
  const first = value - (value % size) + 1
  return [24, 16, 8, 0].map((shift) => Math.floor(first / 2 ** shift) % 256).join(".")
}
