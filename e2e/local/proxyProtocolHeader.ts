/** What a backend learns from a PROXY protocol header (v1 text or v2 binary, TCP over IPv4). */
export interface ProxyProtocolHeader {
  readonly version: 1 | 2
  readonly source: string
  readonly sourcePort: number
  readonly destination: string
  readonly destinationPort: number
  /** The connection's bytes after the header. */
  readonly payload: Buffer
}

const V2_SIGNATURE = Buffer.from("0d0a0d0a000d0a515549540a", "hex")
const V2_PROXY_TCP4 = [0x21, 0x11]

/** Parses the header at the start of `data` as haproxy's spec lays it out; undefined when there is none. */
export const parseProxyProtocolHeader = (data: Buffer): ProxyProtocolHeader | undefined => {
  if (data.subarray(0, 12).equals(V2_SIGNATURE)) {
    if (data[12] !== V2_PROXY_TCP4[0] || data[13] !== V2_PROXY_TCP4[1] || data.length < 16) return undefined
    const length = data.readUInt16BE(14)
    const body = data.subarray(16, 16 + length)
    return {
      version: 2,
      source: [...body.subarray(0, 4)].join("."),
      destination: [...body.subarray(4, 8)].join("."),
      sourcePort: body.readUInt16BE(8),
      destinationPort: body.readUInt16BE(10),
      payload: data.subarray(16 + length),
    }
  }
  const end = data.indexOf("\r\n")
  if (end < 0) return undefined
  const match = /^PROXY TCP4 (\S+) (\S+) (\d+) (\d+)$/.exec(data.subarray(0, end).toString("ascii"))
  if (match === null) return undefined
  return {
    version: 1,
    source: match[1] ?? "",
    destination: match[2] ?? "",
    sourcePort: Number(match[3]),
    destinationPort: Number(match[4]),
    payload: data.subarray(end + 2),
  }
}
