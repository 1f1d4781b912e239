import { Schema, type SchemaAST } from "effect"

/** One entry of a CRD's `x-kubernetes-validations`. */
export interface CelValidation {
  readonly rule: string
  readonly message: string
  /** Relative path (`.ports`) the API server names in its error, when the rule is about a child. */
  readonly fieldPath?: string
}

export const VALIDATIONS_KEY = "x-kubernetes-validations"

/**
 * A rule checked twice from one definition: by the Effect decoder (`check`) and by the API
 * server at admission (`cel`). Keep both sides saying the same thing; the unit and admission
 * tests exercise each rule on both. `check` returning `false` fails with `cel.message`.
 */
export const celRule = <T>(cel: CelValidation, check: (self: T) => Schema.FilterOutput): SchemaAST.Filter<T> =>
  Schema.makeFilter<T>(
    (self) => {
      const output = check(self)
      return output === false ? cel.message : output
    },
    { expected: cel.message, toJsonSchema: () => ({ [VALIDATIONS_KEY]: [cel] }) },
  )

/**
 * A transition rule (one that reads `oldSelf`): only the API server can check it, since a
 * decoder sees one version of the object, so the decoder side always passes.
 */
export const transitionRule = <T>(cel: CelValidation): SchemaAST.Filter<T> => celRule<T>(cel, () => true)
