import { Schema } from "effect"
import { actions } from "./actions.ts"

const ActionSchema = Schema.Literals(actions)

/**
 * Which calls of the action a fault hits, and how many: the next `count` calls, or each call with probability `rate`;
 * with `ipType`, only address creates asking for that type (`v4`, `v6`, …); with `machineName`, only Machine creates
 * naming that Machine. Others pass untouched and leave the fault armed (a test can hit one create among several made
 * at once).
 */
const Frequency = {
  count: Schema.optionalKey(Schema.Number),
  rate: Schema.optionalKey(Schema.Number),
  ipType: Schema.optionalKey(Schema.String),
  machineName: Schema.optionalKey(Schema.String),
}

/** What a call asks for, as far as a fault can be aimed at it. */
export interface FaultTarget {
  readonly ipType?: string | undefined
  readonly machineName?: string | undefined
}

/**
 * Answer with an error status instead of the call's answer. By default nothing is applied; with
 * `applied: true` the change is made first and the error answered anyway (a 5xx from a proxy or a
 * crash after the commit: the caller cannot tell it from one that changed nothing).
 */
export const StatusFault = Schema.Struct({
  action: ActionSchema,
  kind: Schema.Literal("status"),
  status: Schema.Number,
  body: Schema.optionalKey(Schema.Unknown),
  applied: Schema.optionalKey(Schema.Boolean),
  ...Frequency,
})

/**
 * Hold the call `holdMs` (default 1000) then answer 408 — or, with `hang: true`, never answer
 * and let the client give up. `applied: true` makes the change before holding (the ambiguous
 * timeout of a create).
 */
export const TimeoutFault = Schema.Struct({
  action: ActionSchema,
  kind: Schema.Literal("timeout"),
  holdMs: Schema.optionalKey(Schema.Number),
  hang: Schema.optionalKey(Schema.Boolean),
  applied: Schema.optionalKey(Schema.Boolean),
  ...Frequency,
})

/** Apply the change, then destroy the socket without answering. */
export const LostResponseFault = Schema.Struct({
  action: ActionSchema,
  kind: Schema.Literal("lostResponse"),
  ...Frequency,
})

export const Fault = Schema.Union([StatusFault, TimeoutFault, LostResponseFault])
export type Fault = typeof Fault.Type

/** The faults armed right now; each call takes at most one. */
export class Faults {
  private armed: Array<{ fault: Fault; remaining: number | undefined }> = []

  add(fault: Fault): void {
    // Neither count nor rate: the next call only.
    const remaining = fault.rate === undefined ? (fault.count ?? 1) : fault.count
    this.armed.push({ fault, remaining })
  }

  clear(): void {
    this.armed = []
  }

  list(): ReadonlyArray<Fault> {
    return this.armed.map((entry) => entry.fault)
  }

  /** The fault hitting this call, if any, consuming one of its count. */
  take(action: string, target: FaultTarget = {}): Fault | undefined {
    for (const entry of this.armed) {
      if (entry.fault.action !== action) continue
      if (entry.fault.ipType !== undefined && entry.fault.ipType !== target.ipType) continue
      if (entry.fault.machineName !== undefined && entry.fault.machineName !== target.machineName) continue
      if (entry.fault.rate !== undefined && Math.random() >= entry.fault.rate) continue
      if (entry.remaining !== undefined) {
        entry.remaining -= 1
        if (entry.remaining <= 0) this.armed = this.armed.filter((other) => other !== entry)
      }
      return entry.fault
    }
    return undefined
  }
}
