/** One sample of the operator's /metrics: counters summed over the labels a question cares about. */
export interface MetricsSample {
  /** Reconciles of a controller, whatever their result. */
  readonly reconciles: (controller: "tunnel" | "service") => number
  /** API server requests by method (WATCH for watches) on a resource; `method` undefined sums them all. */
  readonly kubeRequests: (resource: string, method?: string) => number
  /** Every API server request that writes (not GET, not WATCH), by resource. */
  readonly kubeWrites: () => Readonly<Record<string, number>>
}

const LINE = /^([a-zA-Z_:][\w:]*)(?:\{([^}]*)\})?\s+(\S+)/

const labelsOf = (text: string | undefined): Record<string, string> =>
  Object.fromEntries([...(text ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((match) => [match[1], match[2]]))

/** Reads the operator's Prometheus text at `url`. */
export const sampleMetrics = async (url: string): Promise<MetricsSample> => {
  const text = await (await fetch(url)).text()
  const series = text.split("\n").flatMap((line) => {
    const match = LINE.exec(line)
    return match === null || line.startsWith("#")
      ? []
      : [{ name: match[1] ?? "", labels: labelsOf(match[2]), value: Number(match[3]) }]
  })
  const sum = (name: string, keep: (labels: Record<string, string>) => boolean) =>
    series.filter((entry) => entry.name === name && keep(entry.labels)).reduce((total, entry) => total + entry.value, 0)
  const requests = "fly_tunnel_operator_kube_requests_total"
  return {
    reconciles: (controller) => sum("controller_reconcile_total", (labels) => labels.controller === controller),
    kubeRequests: (resource, method) =>
      sum(requests, (labels) => labels.resource === resource && (method === undefined || labels.method === method)),
    kubeWrites: () => {
      const writes: Record<string, number> = {}
      for (const entry of series) {
        if (entry.name !== requests || entry.labels.method === "GET" || entry.labels.method === "WATCH") continue
        const key = `${entry.labels.method} ${entry.labels.resource}`
        writes[key] = (writes[key] ?? 0) + entry.value
      }
      return writes
    },
  }
}

/** What changed between two samples of the same process. */
export const writesBetween = (before: MetricsSample, after: MetricsSample): Record<string, number> => {
  const [a, b] = [before.kubeWrites(), after.kubeWrites()]
  return Object.fromEntries(
    Object.entries(b)
      .map(([key, value]) => [key, value - (a[key] ?? 0)] as const)
      .filter(([, delta]) => delta > 0),
  )
}
