import { timingSafeEqual } from "node:crypto"

const scheme = /^\s*(bearer|flyv1)\s+/i

/**
 * Accepts `Bearer X`, `FlyV1 X` and `Bearer FlyV1 X` (schemes stripped recursively, as fly-go
 * does); X may be a comma-separated list, one of which must be the token.
 */
export const isAuthorized = (header: string | undefined, token: string): boolean => {
  if (!header || !scheme.test(header)) return false
  let credentials = header
  while (scheme.test(credentials)) credentials = credentials.replace(scheme, "")
  const expected = Buffer.from(token)
  return credentials
    .split(",")
    .map((part) => Buffer.from(part.trim()))
    .some((part) => part.length === expected.length && timingSafeEqual(part, expected))
}
