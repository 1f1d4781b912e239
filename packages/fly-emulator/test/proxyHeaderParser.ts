/** A test-side PROXY header parser (v1 text and v2 binary), independent of the proxy's encoder. */
export interface ParsedHeader {
  readonly version: 1 | 2
  readonly family: string
  readonly source: string
  readonly sourcePort: number
  readonly destination: string
  readonly destinationPort: number
  /** Bytes after the header. */
  readonly rest: Buffer
}

const v2Signature = Buffer.from("0d0a0d0a000d0a515549540a", "hex")

const ipv6Text = (bytes: Buffer): string =>
  Array.from({ length: 8 }, (_, i) => bytes.readUInt16BE(i * 2).toString(16)).join(":")

export const parseProxyHeader = (data: Buffer): ParsedHeader | undefined => {
  if (data.subarray(0, 12).equals(v2Signature)) {
    const length = data.readUInt16BE(14)
    const body = data.subarray(16, 16 + length)
    if (data[12] !== 0x21) return undefined
    if (data[13] === 0x11)
      return {
        version: 2,
        family: "TCP4",
        source: [...body.subarray(0, 4)].join("."),
        destination: [...body.subarray(4, 8)].join("."),
        sourcePort: body.readUInt16BE(8),
        destinationPort: body.readUInt16BE(10),
        rest: data.subarray(16 + length),
      }
    if (data[13] === 0x21)
      return {
        version: 2,
        family: "TCP6",
        source: ipv6Text(body.subarray(0, 16)),
        destination: ipv6Text(body.subarray(16, 32)),
        sourcePort: body.readUInt16BE(32),
        destinationPort: body.readUInt16BE(34),
        rest: data.subarray(16 + length),
      }
    return undefined
  }
  const end = data.indexOf("\r\n")
  const match = /^PROXY (TCP4|TCP6) (\S+) (\S+) (\d+) (\d+)$/.exec(data.subarray(0, end).toString("ascii"))
  if (end < 0 || !match) return undefined
  return {
    version: 1,
    family: match[1] as string,
    source: match[2] as string,
    destination: match[3] as string,
    sourcePort: Number(match[4]),
    destinationPort: Number(match[5]),
    rest: data.subarray(end + 2),
  }
}
