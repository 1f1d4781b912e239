import { DateTime, Effect } from "effect"

/** Now as a metav1.Time: RFC 3339 in whole seconds, as the API server stores it (so it compares equal after a write). */
export const kubeTimeNow: Effect.Effect<string> = DateTime.now.pipe(
  Effect.map((time) => DateTime.formatIso(time).replace(/\.\d{3}Z$/, "Z")),
)
