import { randomBytes, randomInt } from "node:crypto"

const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

/** A 26-character ULID, the format of Fly instance ids, versions and request ids. */
export const ulid = (now: number = Date.now()): string => {
  let time = ""
  let rest = now
  for (let i = 0; i < 10; i++) {
    time = crockford[rest % 32] + time
    rest = Math.floor(rest / 32)
  }
  const random = Array.from(randomBytes(16), (byte) => crockford[byte % 32]).join("")
  return time + random
}

/** Machine ids are 14 lowercase hex digits. */
export const machineId = (): string => randomBytes(7).toString("hex")

/** App ids look like "z4k69dxd8r31p5mx": 16 lowercase alphanumerics. */
export const appId = (): string => {
  const alphabet = "0123456789abcdefghijklmnopqrstuvwxyz"
  return Array.from(randomBytes(16), (byte) => alphabet[byte % alphabet.length]).join("")
}

export const requestId = (region: string): string => `${ulid()}-${region}`

const adjectives = ["aged", "bold", "calm", "dark", "eager", "fancy", "green", "hidden", "icy", "lively", "misty"]
const nouns = ["thunder", "river", "meadow", "forest", "sun", "cloud", "breeze", "field", "moon", "snow", "wave"]

/** Generated machine names look like "aged-thunder-7371". */
export const machineName = (): string =>
  `${adjectives[randomInt(adjectives.length)]}-${nouns[randomInt(nouns.length)]}-${randomInt(1000, 10000)}`

/** A 6PN address: fdaa:<org>:<app network>:a7b:<host>:<machine>:<n>:2 style, always starting fdaa:. */
export const privateIpv6 = (networkIndex: number, hostIndex: number): string =>
  `fdaa:0:${networkIndex.toString(16)}:a7b:${(hostIndex >> 16).toString(16)}:${(hostIndex & 0xffff).toString(16)}:0:2`
