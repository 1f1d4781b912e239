import { Schema } from "effect"

/**
 * Fly's error body: `{"error", "status"?}`; lease endpoints use `{"status":"error","message","code"}`.
 * Every field is optional because the body is only a hint: the HTTP status decides the error class.
 */
export const ErrorResponse = Schema.Struct({
  error: Schema.optionalKey(Schema.String),
  message: Schema.optionalKey(Schema.String),
  status: Schema.optionalKey(Schema.String),
  code: Schema.optionalKey(Schema.String),
})
export type ErrorResponse = typeof ErrorResponse.Type

/** The text to show for an error body, preferring `message` as fly-go does. */
export const errorText = (body: ErrorResponse): string | undefined => body.message ?? body.error
