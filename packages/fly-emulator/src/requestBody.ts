import { Result, Schema } from "effect"
import { failure, type Reply } from "./reply.ts"

/** Decodes a request body with a schema; the failure is the 400 the API answers. */
export const decodeBody = <S extends Schema.ConstraintDecoder<unknown>>(
  schema: S,
  body: unknown,
): Result.Result<S["Type"], Reply> => {
  const decoded = Schema.decodeUnknownResult(schema)(body ?? {})
  return Result.isFailure(decoded)
    ? Result.fail(failure(400, decoded.failure.message))
    : Result.succeed(decoded.success)
}
