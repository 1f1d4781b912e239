import type { Action } from "./actions.ts"

export interface Call {
  readonly seq: number
  /** ISO timestamp when the call arrived. */
  readonly at: string
  readonly action: Action
  readonly method: string
  readonly path: string
  /** The status sent, or that would have been sent when the response was lost. */
  readonly status: number
  /** Whether the handler ran and succeeded, i.e. the change (if any) was made. */
  readonly applied: boolean
  /** The App the call is about (from the path; for createApp, from the body). */
  readonly app?: string
  readonly machineId?: string
  /** For createIpAssignment: the type asked for (v4, v6, shared_v4, private_v6). */
  readonly ipType?: string
  /** For createMachine: the name asked for, when the request gives one. */
  readonly machineName?: string
  readonly fault?: "status" | "timeout" | "lostResponse" | "rateLimit"
}

export class CallLog {
  private calls: Array<Call> = []
  private seq = 0

  record(call: Omit<Call, "seq">): void {
    this.seq += 1
    this.calls.push({ seq: this.seq, ...call })
  }

  all(): ReadonlyArray<Call> {
    return [...this.calls]
  }

  clear(): void {
    this.calls = []
    this.seq = 0
  }
}
