import { Cause, Effect, type Effect as EffectType, Exit, Scope } from "effect"

/**
 * The Promise front door to a scoped resource, for vitest global setups and scripts: acquires it in a scope of its
 * own (closed at once if acquiring fails) and adds `stop()`, which closes that scope once however often it is called.
 */
export const startScoped = async <A extends object, E>(
  acquire: EffectType.Effect<A, E, Scope.Scope>,
): Promise<A & { readonly stop: () => Promise<void> }> => {
  const scope = Effect.runSync(Scope.make())
  const exit = await Effect.runPromiseExit(acquire.pipe(Scope.provide(scope)))
  if (Exit.isFailure(exit)) {
    await Effect.runPromise(Scope.close(scope, exit))
    throw Cause.squash(exit.cause)
  }
  let stopped: Promise<void> | undefined
  return {
    ...exit.value,
    stop: () => {
      stopped ??= Effect.runPromise(Scope.close(scope, Exit.void))
      return stopped
    },
  }
}
