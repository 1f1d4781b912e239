const units: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1_000, m: 60_000, h: 3_600_000 }

/**
 * Milliseconds of a duration as Fly's JSON bodies carry them (fly-go's `Duration`): a Go duration
 * string ("10s", "1m30s", "500ms", "0s") or a number of nanoseconds. Undefined for anything else,
 * so callers fall back to their default or refuse the field.
 */
export const goDurationMs = (value: unknown): number | undefined => {
  if (typeof value === "number") return Number.isFinite(value) && value >= 0 ? value / 1e6 : undefined
  if (typeof value !== "string") return undefined
  if (value === "0") return 0
  const parts = [...value.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)]
  if (parts.length === 0 || parts.map((part) => part[0]).join("") !== value) return undefined
  return parts.reduce((total, [, amount, unit]) => total + Number(amount) * (units[unit as string] ?? 0), 0)
}

/**
 * Milliseconds of a duration given as a query parameter (`wait?timeout=`, `restart?timeout=`): a Go
 * duration string, or a bare number of seconds as Fly's docs show it. Undefined when absent, NaN when
 * present but not a duration (the caller answers 400).
 */
export const queryDurationMs = (value: string | null | undefined): number | undefined => {
  if (value === null || value === undefined || value === "") return undefined
  if (/^\d+(\.\d+)?$/.test(value)) return Number(value) * 1000
  return goDurationMs(value) ?? Number.NaN
}
