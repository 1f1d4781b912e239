import { type Reason, Reasons } from "@fly-tunnel-operator/api"
import type { FlyError } from "@fly-tunnel-operator/fly"

/** The condition reason a Fly failure is reported under (stable, documented in the README). */
export const reasonOfFlyError = (error: FlyError): Reason => {
  switch (error._tag) {
    case "FlyUnauthorized":
      return Reasons.FlyUnauthorized
    case "FlyRateLimited":
      return Reasons.FlyRateLimited
    case "FlyCapacity":
      return Reasons.FlyCapacity
    default:
      return Reasons.FlyError
  }
}

/** A message for conditions and Events: the Fly call and Fly's own words, never a token. */
export const describeFlyError = (error: FlyError): string => `Fly API ${error.endpoint} failed: ${error.message}`
