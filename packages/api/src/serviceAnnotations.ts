import { Annotations, GoOperatorAnnotations, portAnnotation } from "./constants.ts"

/**
 * How a Service's tuning annotations feed its FlyTunnel's spec. Each annotation sets one spec
 * field; its text is passed on as the field's input and the FlyTunnel schema alone judges it,
 * so a Service annotation and a FlyTunnel field accept exactly the same values.
 */
export interface ServiceDefaults {
  /** The install's region for a Service that names none. */
  readonly region: string
  /** The install's Machine size for a Service that names none. */
  readonly machineSize: string
}

/** A whole number stays text unless it is digits only, so the schema reports the text it was given. */
const wholeNumber = (text: string): number | string => (/^\d+$/.test(text) ? Number(text) : text)

/** "true" and "false" are booleans; any other text stays text, so the schema reports it. */
const booleanText = (text: string): boolean | string => (text === "true" ? true : text === "false" ? false : text)

const quantityFields = [
  [Annotations.frpcCpuRequest, "requests", "cpu"],
  [Annotations.frpcMemoryRequest, "requests", "memory"],
  [Annotations.frpcCpuLimit, "limits", "cpu"],
  [Annotations.frpcMemoryLimit, "limits", "memory"],
] as const

/** The region annotation in force: the list wins over the Go operator's single region. */
export const regionsAnnotation = (annotations: Readonly<Record<string, string>>): string =>
  annotations[Annotations.flyRegions] === undefined ? Annotations.flyRegion : Annotations.flyRegions

/** The spec fields a Service's annotations ask for, as unchecked input for the FlyTunnel schema. */
export const specInputFromAnnotations = (annotations: Readonly<Record<string, string>>, defaults: ServiceDefaults) => {
  const regionsText = annotations[regionsAnnotation(annotations)]
  const resources: Record<string, Record<string, string>> = {}
  for (const [annotation, list, resource] of quantityFields) {
    const value = annotations[annotation]
    if (value !== undefined) resources[list] = { ...resources[list], [resource]: value }
  }
  const replicas = annotations[Annotations.frpcReplicas]
  const ipv6 = annotations[Annotations.ipv6]
  const ipv4 = annotations[Annotations.ipv4]
  const hostnames = annotations[Annotations.hostnames]
  return {
    regions: regionsText === undefined ? [defaults.region] : regionsText.split(",").map((region) => region.trim()),
    machineSize: annotations[Annotations.flyMachineSize] ?? defaults.machineSize,
    frpc: {
      ...(replicas === undefined ? {} : { replicas: wholeNumber(replicas) }),
      ...(Object.keys(resources).length === 0 ? {} : { resources }),
    },
    ...(ipv6 === undefined ? {} : { ipv6: booleanText(ipv6) }),
    ...(ipv4 === undefined ? {} : { ipv4: ipv4.trim() }),
    ...(hostnames === undefined
      ? {}
      : {
          hostnames: hostnames
            .split(",")
            .map((host) => host.trim())
            .filter((host) => host !== ""),
        }),
    /** For every TCP port (PROXY protocol has no meaning for UDP). */
    proxyProtocol: annotations[Annotations.proxyProtocol],
  }
}

/** A Service port as the per-port annotations name it: by its name, or by its number. */
export interface AnnotatedPort {
  readonly name?: string | undefined
  readonly port: number
}

/** The per-port annotation in force for one setting: the one naming the port wins over the one numbering it. */
const portAnnotationOf = (
  annotations: Readonly<Record<string, string>>,
  port: AnnotatedPort,
  setting: "edge" | "force-https",
): string | undefined =>
  [
    ...(port.name === undefined || port.name === "" ? [] : [portAnnotation(port.name, setting)]),
    portAnnotation(port.port, setting),
  ].find((key) => annotations[key] !== undefined)

/** The port fields a Service port's annotations ask for (`<port>-edge`, `<port>-force-https`), as unchecked input. */
export const portInputFromAnnotations = (annotations: Readonly<Record<string, string>>, port: AnnotatedPort) => {
  const edge = portAnnotationOf(annotations, port, "edge")
  const forceHttps = portAnnotationOf(annotations, port, "force-https")
  return {
    ...(edge === undefined ? {} : { edge: annotations[edge]?.trim() }),
    ...(forceHttps === undefined ? {} : { forceHttps: booleanText(annotations[forceHttps]?.trim() ?? "") }),
  }
}

/**
 * The annotation a spec field came from, for messages: `spec.frpc.replicas` →
 * `fly-tunnel-operator.dev/frpc-replicas`. Fields the Service itself sets (its ports) have none.
 */
export const annotationOfSpecPath = (
  path: string,
  annotations: Readonly<Record<string, string>>,
  ports: ReadonlyArray<AnnotatedPort> = [],
) => {
  if (path === "spec.regions" || path.startsWith("spec.regions[")) return regionsAnnotation(annotations)
  if (path === "spec.machineSize") return Annotations.flyMachineSize
  if (path === "spec.frpc.replicas") return Annotations.frpcReplicas
  if (path === "spec.ipv6") return Annotations.ipv6
  if (path === "spec.ipv4") return Annotations.ipv4
  if (path === "spec.hostnames" || path.startsWith("spec.hostnames[")) return Annotations.hostnames
  // A port a shared IPv4 cannot carry: the choice of a shared IPv4 is what refuses it.
  if (/^spec\.ports\[\d+\]$/.test(path) && annotations[Annotations.ipv4] !== undefined) return Annotations.ipv4
  const portSetting = /^spec\.ports\[(\d+)\]\.(edge|forceHttps)$/.exec(path)
  if (portSetting !== null) {
    const port = ports[Number(portSetting[1])]
    const found =
      port === undefined
        ? undefined
        : portAnnotationOf(annotations, port, portSetting[2] === "edge" ? "edge" : "force-https")
    if (found !== undefined) return found
  }
  if (path === "spec.adopt.app") return GoOperatorAnnotations.flyApp
  if (path === "spec.adopt.ipv4") return GoOperatorAnnotations.publicIp
  if (/^spec\.ports\[\d+\]\.proxyProtocol$/.test(path)) return Annotations.proxyProtocol
  for (const [annotation, list, resource] of quantityFields) {
    if (path === `spec.frpc.resources.${list}.${resource}`) return annotation
  }
  return undefined
}
