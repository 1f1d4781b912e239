import { createHash } from "node:crypto"
import { Result, Schema } from "effect"

const Autostop = Schema.Union([Schema.Literals(["off", "stop", "suspend"]), Schema.Boolean])

const MachinePort = Schema.Struct({
  port: Schema.optionalKey(Schema.Number),
  start_port: Schema.optionalKey(Schema.Number),
  end_port: Schema.optionalKey(Schema.Number),
  handlers: Schema.optionalKey(Schema.Array(Schema.Literals(["http", "tls", "pg_tls", "proxy_proto"]))),
  force_https: Schema.optionalKey(Schema.Boolean),
  proxy_proto_options: Schema.optionalKey(Schema.Struct({ version: Schema.optionalKey(Schema.String) })),
})

const MachineService = Schema.Struct({
  protocol: Schema.Literals(["tcp", "udp"]),
  internal_port: Schema.Number,
  ports: Schema.optionalKey(Schema.Array(MachinePort)),
  autostop: Schema.optionalKey(Autostop),
  checks: Schema.optionalKey(Schema.Array(Schema.Record(Schema.String, Schema.Unknown))),
})
export type MachineService = typeof MachineService.Type

/** The parts of `fly.MachineConfig` the emulator checks or acts on; everything else passes through. */
const MachineConfigShape = Schema.Struct({
  image: Schema.String,
  env: Schema.optionalKey(Schema.Record(Schema.String, Schema.String)),
  metadata: Schema.optionalKey(Schema.Record(Schema.String, Schema.String)),
  services: Schema.optionalKey(Schema.Array(MachineService)),
  restart: Schema.optionalKey(
    Schema.Struct({
      policy: Schema.optionalKey(Schema.Literals(["no", "always", "on-failure"])),
      max_retries: Schema.optionalKey(Schema.Number),
    }),
  ),
})
export type MachineConfigShape = typeof MachineConfigShape.Type

const validPort = (port: number): boolean => Number.isInteger(port) && port >= 1 && port <= 65535

/** Rules of Fly's services (networking docs) the shape alone cannot say. */
const serviceProblems = (services: ReadonlyArray<MachineService>): Array<string> => {
  const problems: Array<string> = []
  services.forEach((service, s) => {
    const at = `services[${s}]`
    if (!validPort(service.internal_port)) problems.push(`${at}.internal_port must be between 1 and 65535`)
    for (const [p, port] of (service.ports ?? []).entries()) {
      const portAt = `${at}.ports[${p}]`
      const numbers = [port.port, port.start_port, port.end_port].filter((n) => n !== undefined)
      if (port.port === undefined && (port.start_port === undefined || port.end_port === undefined))
        problems.push(`${portAt} needs port or start_port and end_port`)
      if (numbers.some((n) => !validPort(n))) problems.push(`${portAt} port must be between 1 and 65535`)
      const handlers = port.handlers ?? []
      if (port.force_https && !handlers.includes("http"))
        problems.push(`${portAt}.force_https is only valid with the http handler`)
      const version = port.proxy_proto_options?.version
      if (version !== undefined && version !== "v1" && version !== "v2")
        problems.push(`${portAt}.proxy_proto_options.version must be v1 or v2`)
      if (service.protocol === "udp") {
        if (handlers.length > 0) problems.push(`${portAt}: udp services take no handlers`)
        if (port.port !== undefined && port.port !== service.internal_port)
          problems.push(`${portAt}: udp port must equal internal_port (${service.internal_port})`)
      }
    }
  })
  return problems
}

/** Decodes and checks a machine config; the error text is what the API answers with 400. */
export const validateMachineConfig = (config: unknown): Result.Result<MachineConfigShape, string> => {
  const decoded = Schema.decodeUnknownResult(MachineConfigShape)(config)
  if (Result.isFailure(decoded)) return Result.fail(`invalid machine config: ${decoded.failure.message}`)
  const problems = serviceProblems(decoded.success.services ?? [])
  if (problems.length > 0) return Result.fail(`invalid machine config: ${problems.join("; ")}`)
  return Result.succeed(decoded.success)
}

const autostopAsStored = (value: unknown): unknown => {
  // For backward compatibility Fly answers booleans for "off" and "stop" (the Machines API's machine config).
  if (value === "off") return false
  if (value === "stop") return true
  return value
}

/** The config as Fly stores and returns it. */
export const storedConfig = (config: Record<string, unknown>): Record<string, unknown> => {
  const services = Array.isArray(config.services)
    ? config.services.map((service: Record<string, unknown>) =>
        "autostop" in service ? { ...service, autostop: autostopAsStored(service.autostop) } : service,
      )
    : undefined
  return {
    ...config,
    ...(services ? { services } : {}),
    dns: (config.dns as Record<string, unknown> | undefined) ?? {},
  }
}

/** `image_ref` as Fly derives it from the image name. */
export const imageRef = (image: string) => {
  const [name = image, pinned] = image.split("@")
  const lastColon = name.lastIndexOf(":")
  const hasTag = lastColon > name.lastIndexOf("/")
  const path = hasTag ? name.slice(0, lastColon) : name
  const tag = hasTag ? name.slice(lastColon + 1) : "latest"
  const segments = path.split("/")
  const first = segments[0] ?? ""
  const explicitRegistry = segments.length > 1 && (first.includes(".") || first.includes(":") || first === "localhost")
  const registry = explicitRegistry ? first : "registry-1.docker.io"
  const repository = explicitRegistry ? segments.slice(1).join("/") : segments.length === 1 ? `library/${path}` : path
  const digest = pinned ?? `sha256:${createHash("sha256").update(image).digest("hex")}`
  return { registry, repository, tag, digest, labels: {} }
}
