const units: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 }

/**
 * Milliseconds of a Go duration string as Fly's config uses them ("10s", "1m30s", "500ms"); a bare
 * number counts as seconds. Undefined for anything else, so callers fall back to their default.
 */
export const goDurationMs = (value: unknown): number | undefined => {
  if (typeof value === "number" && Number.isFinite(value)) return value * 1_000
  if (typeof value !== "string") return undefined
  const parts = [...value.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)]
  if (parts.length === 0 || parts.map((part) => part[0]).join("") !== value) return undefined
  return parts.reduce((total, [, amount, unit]) => total + Number(amount) * (units[unit as string] ?? 0), 0)
}
