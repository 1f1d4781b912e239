import { Schema } from "effect"

/** A machine could not be booted: its config names a missing secret, a file cannot be written, … */
export class RuntimeError extends Schema.TaggedError<RuntimeError>()("RuntimeError", {
  machineId: Schema.String,
  message: Schema.String,
}) {}
