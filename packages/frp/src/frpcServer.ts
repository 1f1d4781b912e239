import { Option, Schema } from "effect"
import { parse } from "smol-toml"

/** The part of an frpc config that says where it dials (frp's defaults: port 7000). */
const FrpcServer = Schema.Struct({
  serverAddr: Schema.String,
  serverPort: Schema.optionalKey(Schema.Int),
})

/**
 * Where an frpc TOML config dials: `serverAddr` and `serverPort` (7000 when unset, as in frp). None when the text is
 * not TOML or names no server. Used to recognise another installation's frpc (the Go operator's) by the address it
 * serves, not by its name.
 */
export const frpcServerOf = (toml: string): Option.Option<{ readonly addr: string; readonly port: number }> => {
  let document: unknown
  try {
    document = parse(toml)
  } catch {
    return Option.none()
  }
  return Schema.decodeUnknownOption(FrpcServer)(document).pipe(
    Option.map((server) => ({ addr: server.serverAddr, port: server.serverPort ?? 7000 })),
  )
}
