import { Schema } from "effect"
import type { MachineRecord } from "./store.ts"

/**
 * What a test declares a check's status to be, on a host that runs no processes and so cannot probe
 * anything. Without `app`, `machine_id` or `name` the mark matches every Machine or check, including
 * Machines created later; the newest matching mark wins.
 */
export const CheckMark = Schema.Struct({
  status: Schema.Literals(["passing", "warning", "critical"]),
  app: Schema.optionalKey(Schema.String),
  machine_id: Schema.optionalKey(Schema.String),
  name: Schema.optionalKey(Schema.String),
  output: Schema.optionalKey(Schema.String),
})
export type CheckMark = typeof CheckMark.Type

/** The check marks in force, oldest first. */
export class CheckMarks {
  private marks: Array<CheckMark & { readonly at: string }> = []

  add(mark: CheckMark): void {
    this.marks.push({ ...mark, at: new Date().toISOString().replace(/\.\d+Z$/, "Z") })
  }

  clear(): void {
    this.marks = []
  }

  list(): ReadonlyArray<CheckMark> {
    return this.marks.map(({ at: _at, ...mark }) => mark)
  }

  /** The newest mark for this Machine's check, if any. */
  find(machine: MachineRecord, name: string): (CheckMark & { readonly at: string }) | undefined {
    return this.marks.findLast(
      (mark) =>
        (mark.app === undefined || mark.app === machine.app) &&
        (mark.machine_id === undefined || mark.machine_id === machine.id) &&
        (mark.name === undefined || mark.name === name),
    )
  }
}
