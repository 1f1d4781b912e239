import { lookup } from "node:dns/promises"
import { Context, Effect, Layer, Schema } from "effect"

/** A host name that did not resolve (NXDOMAIN, no answer, DNS unreachable): checked again on the next pass. */
export class HostNotResolved extends Schema.TaggedError<HostNotResolved>()("HostNotResolved", {
  host: Schema.String,
  message: Schema.String,
}) {}

/**
 * Resolves an address target's host name the way frpc would (the system resolver: /etc/hosts, search domains, the
 * cluster's DNS), so the operator checks every address the name stands for and pins the one frpc then dials.
 */
export class HostResolver extends Context.Service<
  HostResolver,
  {
    /** Every address of `host`, IPv4 and IPv6, in the resolver's order. */
    readonly resolve: (host: string) => Effect.Effect<ReadonlyArray<string>, HostNotResolved>
  }
>()("@fly-tunnel-operator/operator/policy/HostResolver") {
  static readonly layer: Layer.Layer<HostResolver> = Layer.succeed(
    HostResolver,
    HostResolver.of({
      resolve: (host) =>
        Effect.tryPromise({
          try: () => lookup(host, { all: true, verbatim: true }),
          catch: (error) =>
            new HostNotResolved({
              host,
              message: `${host} does not resolve: ${error instanceof Error ? error.message : String(error)}`,
            }),
        }).pipe(Effect.map((answers) => answers.map((answer) => answer.address))),
    }),
  )

  /** A table, for tests (which may change it between passes): a name missing from it does not resolve. */
  static readonly layerTable = (table: ReadonlyMap<string, ReadonlyArray<string>>): Layer.Layer<HostResolver> =>
    Layer.succeed(
      HostResolver,
      HostResolver.of({
        resolve: (host) => {
          const addresses = table.get(host)
          return addresses === undefined || addresses.length === 0
            ? Effect.fail(new HostNotResolved({ host, message: `${host} does not resolve (ENOTFOUND)` }))
            : Effect.succeed(addresses)
        },
      }),
    )
}
