import { Context, Effect, Layer } from "effect"
import { type EdgeCa, makeEdgeCa } from "./edgeCa.ts"

/** The emulated Fly edge's certificate authority, as a service of the Fly proxy (see edgeCa.ts). */
export class EdgeTls extends Context.Service<EdgeTls, EdgeCa>()("@fly-tunnel-operator/fly-emulator/edge/EdgeTls") {
  static readonly layer = (ca: EdgeCa) => Layer.succeed(EdgeTls, ca)

  /** A CA of its own, for a proxy run without the emulator's (tests of the proxy alone). */
  static readonly layerGenerated = Layer.effect(
    EdgeTls,
    Effect.promise(() => makeEdgeCa()),
  )
}
