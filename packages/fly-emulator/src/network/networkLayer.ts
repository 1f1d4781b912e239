import { execFileSync } from "node:child_process"
import { Effect, Layer } from "effect"
import { EmulatorNetwork } from "./emulatorNetwork.ts"
import { loopbackNetwork } from "./loopbackNetwork.ts"
import { namespaceNetwork } from "./namespaceNetwork.ts"
import type { NetworkError } from "./networkError.ts"

export type NetworkMode = "auto" | "namespace" | "loopback"

/** Namespaces need root and a working `ip netns`. */
export const namespacesAvailable = (): boolean => {
  if (process.getuid?.() !== 0) return false
  try {
    execFileSync("ip", ["netns", "list"], { stdio: "ignore" })
    return true
  } catch {
    return false
  }
}

/** The emulator network; "auto" picks namespaces where the host allows them. Torn down with the layer. */
export const networkLayer = (mode: NetworkMode): Layer.Layer<EmulatorNetwork, NetworkError> =>
  Layer.effect(
    EmulatorNetwork,
    Effect.suspend(() =>
      mode === "namespace" || (mode === "auto" && namespacesAvailable()) ? namespaceNetwork : loopbackNetwork,
    ),
  )
