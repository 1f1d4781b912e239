import { Schema } from "effect"

/**
 * Faults of Let's Encrypt as Fly reports them, armed per hostname through the control surface and kept until cleared:
 * a validation error (Fly's `validation_errors[]`: code, message, remediation) or its rate limit (Fly's
 * `rate_limited_until`). While one is armed, validating the hostname does not issue.
 */
export const AcmeFault = Schema.Union([
  Schema.Struct({
    hostname: Schema.String,
    kind: Schema.Literal("validation_error"),
    /** One of Fly's codes, e.g. CAA_RECORD_MISSING_FLY, DNS_RECORD_MISMATCH (fly-go's schema lists them). */
    code: Schema.String,
    message: Schema.String,
    remediation: Schema.optionalKey(Schema.String),
  }),
  Schema.Struct({
    hostname: Schema.String,
    kind: Schema.Literal("rate_limited"),
    /** How long Let's Encrypt holds issuance back (default 3600). */
    seconds: Schema.optionalKey(Schema.Number),
  }),
])
export type AcmeFault = typeof AcmeFault.Type

export class AcmeFaults {
  private armed: Array<AcmeFault> = []

  add(fault: AcmeFault): void {
    this.armed = [...this.armed.filter((other) => other.hostname !== fault.hostname), fault]
  }

  clear(): void {
    this.armed = []
  }

  list(): ReadonlyArray<AcmeFault> {
    return [...this.armed]
  }

  of(hostname: string): AcmeFault | undefined {
    return this.armed.find((fault) => fault.hostname === hostname)
  }
}
