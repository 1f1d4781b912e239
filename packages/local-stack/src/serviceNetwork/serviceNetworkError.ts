import { Schema } from "effect"

/** The service network could not be set up (an `ip` command failed, or no free slot or range was left). */
export class ServiceNetworkError extends Schema.TaggedError<ServiceNetworkError>()("ServiceNetworkError", {
  message: Schema.String,
}) {}
