import { Annotations } from "./constants.ts"

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
  return {
    regions: regionsText === undefined ? [defaults.region] : regionsText.split(",").map((region) => region.trim()),
    machineSize: annotations[Annotations.flyMachineSize] ?? defaults.machineSize,
    frpc: {
      ...(replicas === undefined ? {} : { replicas: wholeNumber(replicas) }),
      ...(Object.keys(resources).length === 0 ? {} : { resources }),
    },
    ...(ipv6 === undefined ? {} : { ipv6: booleanText(ipv6) }),
    /** For every TCP port (PROXY protocol has no meaning for UDP). */
    proxyProtocol: annotations[Annotations.proxyProtocol],
  }
}

/**
 * The annotation a spec field came from, for messages: `spec.frpc.replicas` →
 * `fly-tunnel-operator.dev/frpc-replicas`. Fields the Service itself sets (its ports) have none.
 */
export const annotationOfSpecPath = (path: string, annotations: Readonly<Record<string, string>>) => {
  if (path === "spec.regions" || path.startsWith("spec.regions[")) return regionsAnnotation(annotations)
  if (path === "spec.machineSize") return Annotations.flyMachineSize
  if (path === "spec.frpc.replicas") return Annotations.frpcReplicas
  if (path === "spec.ipv6") return Annotations.ipv6
  if (/^spec\.ports\[\d+\]\.proxyProtocol$/.test(path)) return Annotations.proxyProtocol
  for (const [annotation, list, resource] of quantityFields) {
    if (path === `spec.frpc.resources.${list}.${resource}`) return annotation
  }
  return undefined
}
