import { Redacted } from "effect"

const scheme = /^\s*(bearer|flyv1)\s+/i
const macaroonPrefixes = new Set(["fm1r", "fm1a", "fm2"])

/** Tokens are pasted with or without a scheme, sometimes twice (`Bearer FlyV1 fm2_…`). */
const stripSchemes = (token: string): string => {
  const stripped = token.replace(scheme, "")
  return stripped === token ? token.trim() : stripSchemes(stripped)
}

/**
 * The `Authorization` header fly-go sends to the Machines API: macaroons (`fm1r_`, `fm1a_`, `fm2_`,
 * possibly several, comma-separated) go as `FlyV1 <m1>,<m2>` — and alone, if user tokens are mixed
 * in; anything else is an OAuth/user token sent as `Bearer <token>`.
 */
export const authorizationHeader = (token: Redacted.Redacted<string>): Redacted.Redacted<string> => {
  const parts = stripSchemes(Redacted.value(token))
    .split(",")
    .map((part) => part.trim())
    .filter((part) => part.length > 0)
  const macaroons = parts.filter((part) => macaroonPrefixes.has(part.split("_", 1)[0] ?? ""))
  return Redacted.make(macaroons.length > 0 ? `FlyV1 ${macaroons.join(",")}` : `Bearer ${parts.join(",")}`)
}
