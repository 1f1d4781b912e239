/** fly-go's `GeoRegion` values (fly-go's machine types). */
export type GeoRegion = "africa" | "asia_pacific" | "europe" | "north_america" | "south_america"

export interface FlyRegion {
  readonly code: string
  readonly name: string
  readonly gateway: boolean
  readonly geoRegion: GeoRegion
  /** The city's coordinates, rounded; Fly's exact figures are not published in its API docs. */
  readonly latitude: number
  readonly longitude: number
}

/** The 18 regions Fly lists since the 2025-10 consolidation (Fly's regions list). */
export const flyRegions: ReadonlyArray<FlyRegion> = [
  { code: "ams", name: "Amsterdam, Netherlands", gateway: true, geoRegion: "europe", latitude: 52.37, longitude: 4.9 },
  { code: "arn", name: "Stockholm, Sweden", gateway: true, geoRegion: "europe", latitude: 59.33, longitude: 18.07 },
  { code: "bom", name: "Mumbai, India", gateway: true, geoRegion: "asia_pacific", latitude: 19.08, longitude: 72.88 },
  { code: "cdg", name: "Paris, France", gateway: true, geoRegion: "europe", latitude: 48.86, longitude: 2.35 },
  {
    code: "dfw",
    name: "Dallas, Texas (US)",
    gateway: true,
    geoRegion: "north_america",
    latitude: 32.78,
    longitude: -96.8,
  },
  {
    code: "ewr",
    name: "Secaucus, NJ (US)",
    gateway: true,
    geoRegion: "north_america",
    latitude: 40.79,
    longitude: -74.06,
  },
  { code: "fra", name: "Frankfurt, Germany", gateway: true, geoRegion: "europe", latitude: 50.11, longitude: 8.68 },
  {
    code: "gru",
    name: "Sao Paulo, Brazil",
    gateway: false,
    geoRegion: "south_america",
    latitude: -23.55,
    longitude: -46.63,
  },
  {
    code: "iad",
    name: "Ashburn, Virginia (US)",
    gateway: true,
    geoRegion: "north_america",
    latitude: 39.04,
    longitude: -77.49,
  },
  {
    code: "jnb",
    name: "Johannesburg, South Africa",
    gateway: false,
    geoRegion: "africa",
    latitude: -26.2,
    longitude: 28.05,
  },
  {
    code: "lax",
    name: "Los Angeles, California (US)",
    gateway: true,
    geoRegion: "north_america",
    latitude: 34.05,
    longitude: -118.24,
  },
  {
    code: "lhr",
    name: "London, United Kingdom",
    gateway: true,
    geoRegion: "europe",
    latitude: 51.51,
    longitude: -0.13,
  },
  { code: "nrt", name: "Tokyo, Japan", gateway: true, geoRegion: "asia_pacific", latitude: 35.68, longitude: 139.69 },
  {
    code: "ord",
    name: "Chicago, Illinois (US)",
    gateway: true,
    geoRegion: "north_america",
    latitude: 41.88,
    longitude: -87.63,
  },
  {
    code: "sin",
    name: "Singapore, Singapore",
    gateway: true,
    geoRegion: "asia_pacific",
    latitude: 1.35,
    longitude: 103.82,
  },
  {
    code: "sjc",
    name: "San Jose, California (US)",
    gateway: true,
    geoRegion: "north_america",
    latitude: 37.34,
    longitude: -121.89,
  },
  {
    code: "syd",
    name: "Sydney, Australia",
    gateway: true,
    geoRegion: "asia_pacific",
    latitude: -33.87,
    longitude: 151.21,
  },
  {
    code: "yyz",
    name: "Toronto, Canada",
    gateway: true,
    geoRegion: "north_america",
    latitude: 43.65,
    longitude: -79.38,
  },
]

export const defaultRegionCodes: ReadonlyArray<string> = flyRegions.map((region) => region.code)

/** The region the emulator answers as "nearest" and places machines in when none is asked for. */
export const nearestRegion = (codes: ReadonlyArray<string>): string =>
  codes.includes("iad") ? "iad" : (codes[0] ?? "iad")

/**
 * `GET /v1/platform/regions` with the fields of Fly's `regionResponse`. A code the emulator was
 * configured with but does not know is answered as a North American gateway region at 0,0. The
 * emulator offers no Managed Postgres, so `mpg_available` is false everywhere.
 */
export const regionsResponse = (codes: ReadonlyArray<string>) => ({
  nearest: nearestRegion(codes),
  regions: codes.map((code) => {
    const known = flyRegions.find((region) => region.code === code)
    return {
      code,
      name: known?.name ?? code,
      deprecated: false,
      gateway_available: known?.gateway ?? true,
      geo_region: known?.geoRegion ?? "north_america",
      latitude: known?.latitude ?? 0,
      longitude: known?.longitude ?? 0,
      mpg_available: false,
      requires_paid_plan: false,
    }
  }),
})
