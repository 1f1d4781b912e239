import { Schema } from "effect"

/** The local control plane could not be started, or a request to it failed. */
export class ControlPlaneError extends Schema.TaggedError<ControlPlaneError>()("ControlPlaneError", {
  message: Schema.String,
}) {}
