import type { MicroTime } from "@kubernetes-models/apimachinery/apis/meta/v1/MicroTime"
import type { Time } from "@kubernetes-models/apimachinery/apis/meta/v1/Time"
import { DateTime, Effect } from "effect"

/** Now as a metav1.Time: RFC 3339 in whole seconds, as the API server stores it (so it compares equal after a write). */
export const kubeTimeNow: Effect.Effect<Time> = DateTime.now.pipe(
  Effect.map((time) => DateTime.formatIso(time).replace(/\.\d{3}Z$/, "Z")),
)

/**
 * A metav1.MicroTime, as Lease times are written: RFC 3339 with six fractional digits (client-go's layout); the
 * clock gives milliseconds, so the last three are zeros.
 */
export const kubeMicroTime = (millis: number): MicroTime => new Date(millis).toISOString().replace(/Z$/, "000Z")
