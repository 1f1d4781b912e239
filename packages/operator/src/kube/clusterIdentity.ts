import { Context, Effect, Layer, Schedule, Schema } from "effect"
import { KubeClient } from "./kubeClient.ts"
import { Namespace } from "./resourceType.ts"

/** This cluster could not be identified, so nothing it owns on Fly could be told from another cluster's. */
export class ClusterIdentityUnavailable extends Schema.TaggedError<ClusterIdentityUnavailable>()(
  "ClusterIdentityUnavailable",
  { message: Schema.String },
) {}

/**
 * Who this cluster is, on Fly: two clusters sharing one Fly organization never touch each other's Apps. By default the
 * UID of the `kube-system` namespace — set when the cluster was made, never changed, one `get` to read, and unique
 * across clusters; `--cluster-id` overrides it (a cluster rebuilt to take over its predecessor's tunnels).
 */
export class ClusterIdentity extends Context.Service<ClusterIdentity, { readonly id: string }>()(
  "@fly-tunnel-operator/operator/kube/ClusterIdentity",
) {
  static readonly layer = (override: string): Layer.Layer<ClusterIdentity, ClusterIdentityUnavailable, KubeClient> =>
    Layer.effect(
      ClusterIdentity,
      override !== ""
        ? Effect.succeed({ id: override })
        : Effect.gen(function* () {
            const kube = yield* KubeClient
            const namespace = yield* kube.get(Namespace, "kube-system").pipe(
              // An API server still starting is waited for; a refusal is reported at once.
              Effect.retry({
                while: (error) => error._tag === "KubeUnavailable",
                schedule: Schedule.min([Schedule.exponential("500 millis"), Schedule.spaced("10 seconds")]),
              }),
              Effect.mapError(
                (error) =>
                  new ClusterIdentityUnavailable({
                    message: `reading this cluster's identity (the kube-system namespace's UID) failed: ${error.message}. Grant the operator get on namespaces/kube-system (the chart does), or set --cluster-id (CLUSTER_ID).`,
                  }),
              ),
            )
            const id = namespace.metadata?.uid ?? ""
            if (id === "")
              return yield* new ClusterIdentityUnavailable({ message: "the kube-system namespace has no UID" })
            return { id }
          }),
    )
}
