import { Context, Effect, Layer } from "effect"
import { type EmulatorOptions, type RunningEmulator, startEmulator } from "./startEmulator.ts"

/** A running emulator as an Effect service; the layer closes it (and its machines) on release. */
export class FlyEmulator extends Context.Service<FlyEmulator, RunningEmulator>()(
  "@fly-tunnel-operator/fly-emulator/FlyEmulator",
) {
  static readonly layer = (options: EmulatorOptions = {}) =>
    Layer.effect(
      FlyEmulator,
      Effect.acquireRelease(
        Effect.promise(() => startEmulator(options)),
        (emulator) => Effect.promise(() => emulator.close()),
      ),
    )
}
