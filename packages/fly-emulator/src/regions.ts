/** The 18 regions Fly lists since the 2025-10 consolidation (reference §10). */
export const flyRegions: ReadonlyArray<{ code: string; name: string; gateway: boolean }> = [
  { code: "ams", name: "Amsterdam, Netherlands", gateway: true },
  { code: "arn", name: "Stockholm, Sweden", gateway: true },
  { code: "bom", name: "Mumbai, India", gateway: true },
  { code: "cdg", name: "Paris, France", gateway: true },
  { code: "dfw", name: "Dallas, Texas (US)", gateway: true },
  { code: "ewr", name: "Secaucus, NJ (US)", gateway: true },
  { code: "fra", name: "Frankfurt, Germany", gateway: true },
  { code: "gru", name: "Sao Paulo, Brazil", gateway: false },
  { code: "iad", name: "Ashburn, Virginia (US)", gateway: true },
  { code: "jnb", name: "Johannesburg, South Africa", gateway: false },
  { code: "lax", name: "Los Angeles, California (US)", gateway: true },
  { code: "lhr", name: "London, United Kingdom", gateway: true },
  { code: "nrt", name: "Tokyo, Japan", gateway: true },
  { code: "ord", name: "Chicago, Illinois (US)", gateway: true },
  { code: "sin", name: "Singapore, Singapore", gateway: true },
  { code: "sjc", name: "San Jose, California (US)", gateway: true },
  { code: "syd", name: "Sydney, Australia", gateway: true },
  { code: "yyz", name: "Toronto, Canada", gateway: true },
]

export const defaultRegionCodes: ReadonlyArray<string> = flyRegions.map((region) => region.code)

/** The region the emulator answers as "nearest" and places machines in when none is asked for. */
export const nearestRegion = (codes: ReadonlyArray<string>): string =>
  codes.includes("iad") ? "iad" : (codes[0] ?? "iad")

export const regionsResponse = (codes: ReadonlyArray<string>) => ({
  nearest: nearestRegion(codes),
  regions: codes.map((code) => {
    const known = flyRegions.find((region) => region.code === code)
    return {
      code,
      name: known?.name ?? code,
      deprecated: false,
      gateway_available: known?.gateway ?? true,
      geo_region: "",
      latitude: 0,
      longitude: 0,
      mpg_available: false,
      requires_paid_plan: false,
    }
  }),
})
