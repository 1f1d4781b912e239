import { Metric } from "effect"

/** One count per HTTP attempt (retries included), labelled `endpoint` and `status` (code or "error"). */
export const flyApiRequestsTotal = Metric.counter("fly_api_requests_total", {
  description: 'Fly Machines API requests by endpoint and HTTP status ("error" when no response arrived)',
  incremental: true,
})

/** Seconds per HTTP attempt, labelled `endpoint`. */
export const flyApiRequestDurationSeconds = Metric.histogram("fly_api_request_duration_seconds", {
  description: "Duration of Fly Machines API requests by endpoint",
  boundaries: Metric.exponentialBoundaries({ start: 0.01, factor: 2, count: 14 }),
})
