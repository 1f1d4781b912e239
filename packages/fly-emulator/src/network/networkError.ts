import { Schema } from "effect"

/** A network setup or teardown step failed (an `ip` command, a listener, an exhausted pool). */
export class NetworkError extends Schema.TaggedError<NetworkError>()("NetworkError", {
  message: Schema.String,
}) {}
