import { Schema } from "effect"
import { stringify } from "yaml"
import { API_VERSION, CRD_NAME, GROUP, KIND, LIST_KIND, PLURAL, SHORT_NAME, SINGULAR, VERSION } from "./constants.ts"
import { FlyTunnelSpec } from "./flyTunnelSpec.ts"
import { FlyTunnelStatus } from "./flyTunnelStatus.ts"
import { structuralProblems, toStructural } from "./structuralSchema.ts"

/** Where the generated CRD lives, relative to the repository root. */
export const CRD_PATH = `crds/${GROUP}_${PLURAL}.yaml`

/**
 * The chart's copy, byte for byte: its CRD template renders it, so `helm upgrade` applies a changed CRD (Helm never
 * upgrades a chart's `crds/`). Not under the chart's `crds/`, which Helm would install on its own.
 */
export const CHART_CRD_PATH = `charts/fly-tunnel-operator/files/crds/${GROUP}_${PLURAL}.yaml`

const jsonSchemaOf = (schema: Schema.Top) =>
  toStructural(
    Schema.toJsonSchemaDocument(schema, { includeAnnotationKey: (key) => key.startsWith("x-kubernetes-") }).schema,
  )

/** Label values are at most 63 characters and the tunnel's name is one (`tunnel-name`). */
const NAME_RULE = { rule: "size(self.metadata.name) <= 63", message: "metadata.name must be at most 63 characters" }

/** The FlyTunnel's `openAPIV3Schema`, derived from the Effect schemas. */
export const flyTunnelOpenApiSchema = () => ({
  type: "object",
  description:
    "FlyTunnel gives a Service (or any host in reach of the cluster) a public address on Fly.io: a Fly App with frps Machines and a dedicated IPv4, and an frpc Deployment in the cluster.",
  required: ["spec"],
  properties: {
    apiVersion: {
      type: "string",
      description: `APIVersion defines the versioned schema of this representation of an object (${API_VERSION}).`,
    },
    kind: { type: "string", description: `Kind is the type of this object (${KIND}).` },
    metadata: { type: "object" },
    spec: jsonSchemaOf(FlyTunnelSpec),
    status: jsonSchemaOf(FlyTunnelStatus),
  },
  "x-kubernetes-validations": [NAME_RULE],
})

const printerColumns = [
  {
    name: "Target",
    type: "string",
    description: "The Service or address the tunnel delivers to.",
    jsonPath: ".status.target",
  },
  {
    name: "Address",
    type: "string",
    description: "The tunnel's public IPv4.",
    jsonPath: '.status.addresses[?(@.type=="v4")].ip',
  },
  {
    name: "IPv6",
    type: "string",
    description: "The tunnel's public IPv6 (TCP only).",
    jsonPath: '.status.addresses[?(@.type=="v6")].ip',
    priority: 1,
  },
  { name: "Regions", type: "string", description: "Fly regions of the Machines.", jsonPath: ".status.regions" },
  {
    name: "Ready",
    type: "string",
    description: "Whether the tunnel carries traffic.",
    jsonPath: '.status.conditions[?(@.type=="Ready")].status',
  },
  { name: "Phase", type: "string", description: "Summary of the conditions.", jsonPath: ".status.phase", priority: 1 },
  { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" },
]

/** The FlyTunnel CustomResourceDefinition, ready to apply. Throws if the schema is not structural. */
export const flyTunnelCrd = () => {
  const openAPIV3Schema = flyTunnelOpenApiSchema()
  const problems = [
    ...structuralProblems(openAPIV3Schema.properties.spec, "spec"),
    ...structuralProblems(openAPIV3Schema.properties.status, "status"),
  ]
  if (problems.length > 0) throw new Error(`FlyTunnel schema is not structural:\n${problems.join("\n")}`)
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: CRD_NAME },
    spec: {
      group: GROUP,
      names: { kind: KIND, listKind: LIST_KIND, plural: PLURAL, singular: SINGULAR, shortNames: [SHORT_NAME] },
      scope: "Namespaced",
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: printerColumns,
          schema: { openAPIV3Schema },
        },
      ],
    },
  }
}

/** The CRD file's exact content. */
export const flyTunnelCrdYaml = (): string =>
  `# Generated from packages/api (Effect Schema). Do not edit: run \`node packages/api/src/crdWrite.ts\`.\n${stringify(flyTunnelCrd(), { lineWidth: 0 })}`
