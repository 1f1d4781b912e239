import { Schema } from "effect"

/** Some listeners of a proxy sync could not be opened; the rest of the sync was applied. */
export class ProxyError extends Schema.TaggedError<ProxyError>()("ProxyError", {
  message: Schema.String,
}) {}
