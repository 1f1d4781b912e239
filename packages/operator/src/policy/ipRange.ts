import { BlockList, isIP } from "node:net"
import { Schema } from "effect"

/** An IP range as `address/prefix`, e.g. `10.0.0.0/8` or `fc00::/7`. */
export interface IpRange {
  readonly text: string
  readonly family: "ipv4" | "ipv6"
  readonly list: BlockList
}

/** Parses `address/prefix`; undefined when it is not one (zones and IPv4-mapped IPv6 are not ranges we take). */
export const parseIpRange = (text: string): IpRange | undefined => {
  const match = /^([^/]+)\/(\d{1,3})$/.exec(text.trim())
  if (match === null) return undefined
  const [, address = "", prefixText = ""] = match
  const version = isIP(address)
  const prefix = Number(prefixText)
  if (version === 0 || address.includes("%") || prefix > (version === 4 ? 32 : 128)) return undefined
  const family = version === 4 ? "ipv4" : "ipv6"
  const list = new BlockList()
  list.addSubnet(address, prefix, family)
  return { text: `${address}/${prefix}`, family, list }
}

/** The valid ranges of `texts` (settings are decoded first, so nothing is dropped there). */
export const parseIpRanges = (texts: ReadonlyArray<string>): ReadonlyArray<IpRange> =>
  texts.flatMap((text) => {
    const range = parseIpRange(text)
    return range === undefined ? [] : [range]
  })

/**
 * Whether `address` lies in `range`. An IPv4-mapped IPv6 address (`::ffff:127.0.0.1`) is the IPv4 address it maps:
 * Node's BlockList compares them so, which keeps `::ffff:169.254.169.254` inside `169.254.0.0/16`.
 */
export const rangeContains = (range: IpRange, address: string): boolean => {
  const version = isIP(address)
  return version !== 0 && range.list.check(address, version === 4 ? "ipv4" : "ipv6")
}

/** The first range of `ranges` that holds `address`. */
export const firstRangeHolding = (ranges: ReadonlyArray<IpRange>, address: string): IpRange | undefined =>
  ranges.find((range) => rangeContains(range, address))

/** A string that is an IP range, for settings and values. */
export const IpRangeText = Schema.String.check(
  Schema.makeFilter((text) => parseIpRange(text) !== undefined || `${text} is not an IP range such as 10.0.0.0/8`),
)

/** `a, b,,c` → `["a", "b", "c"]`. */
export const splitList = (text: string): ReadonlyArray<string> =>
  text
    .split(",")
    .map((item) => item.trim())
    .filter((item) => item !== "")
