// The controller-runtime metric names, so dashboards written for Go operators read ours too.
import { Metric } from "effect"

export const reconcileTotal = Metric.counter("controller_reconcile_total", {
  description: "Reconciles per controller and result (success, requeue, requeue_after, error).",
  incremental: true,
})

export const reconcileErrorsTotal = Metric.counter("controller_reconcile_errors_total", {
  description: "Reconciles that failed with an error, per controller.",
  incremental: true,
})

export const reconcileDurationSeconds = Metric.histogram("controller_reconcile_duration_seconds", {
  description: "Time spent in one reconcile, per controller.",
  boundaries: Metric.exponentialBoundaries({ start: 0.005, factor: 2, count: 16 }),
})

export const workqueueDepth = Metric.gauge("workqueue_depth", {
  description: "Keys waiting in a controller's work queue.",
})
