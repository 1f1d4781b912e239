// The cluster's own address ranges, discovered from the API server, never assumed (no built-in 10.96.0.0/12): the
// Service ranges (ServiceCIDR objects), the Pod ranges Nodes were given (`spec.podCIDRs`) and the API server's own
// addresses (the `kubernetes` EndpointSlice in `default`). An address target inside any of them is refused. A
// cluster whose CNI does not record Pod ranges on Nodes has none to find here: the chart value
// `addressTargets.refusedCIDRs` adds them.
import { Context, Effect, Exit, Layer } from "effect"
import { type ClusterRangesSnapshot, EMPTY_CLUSTER_RANGES } from "../policy/addressRules.ts"
import { parseIpRanges } from "../policy/ipRange.ts"
import { KubeClient } from "./kubeClient.ts"
import type { KubeError } from "./kubeErrors.ts"
import { EndpointSlice, Node, ServiceCIDR } from "./resourceType.ts"

/** How long one discovery is reused: ranges change rarely, and a resync of every tunnel should not list Nodes each. */
const TIME_TO_LIVE = "1 minute"

/** The EndpointSlice the API server keeps for the `kubernetes` Service, holding its own addresses. */
const API_SERVER_SLICE = { name: "kubernetes", namespace: "default" } as const

export const discoverClusterRanges: Effect.Effect<ClusterRangesSnapshot, KubeError, KubeClient> = Effect.gen(
  function* () {
    const kube = yield* KubeClient
    // Listed, not watched: the ranges change rarely, and a list a minute costs less than a store of every Node.
    const [serviceCidrs, nodes, apiServer] = yield* Effect.all(
      [
        // A cluster older than the ServiceCIDR API (GA in 1.33) has no such kind: nothing to find there.
        kube
          .list(ServiceCIDR)
          .pipe(Effect.catchTag("KubeNotFound", () => Effect.succeed({ items: [], resourceVersion: "" }))),
        kube.list(Node),
        kube
          .get(EndpointSlice, API_SERVER_SLICE.name, API_SERVER_SLICE.namespace)
          .pipe(Effect.catchTag("KubeNotFound", () => Effect.succeed(undefined))),
      ],
      { concurrency: 3 },
    )
    return {
      serviceRanges: parseIpRanges(serviceCidrs.items.flatMap((cidr) => cidr.spec?.cidrs ?? [])),
      podRanges: parseIpRanges(nodes.items.flatMap((node) => node.spec?.podCIDRs ?? [])),
      apiServerAddresses: (apiServer?.endpoints ?? []).flatMap((endpoint) => endpoint.addresses),
    }
  },
)

export class ClusterRanges extends Context.Service<
  ClusterRanges,
  {
    /** The ranges as discovered at most a minute ago; a failed discovery is not reused. */
    readonly current: Effect.Effect<ClusterRangesSnapshot, KubeError>
  }
>()("@fly-tunnel-operator/operator/kube/ClusterRanges") {
  static readonly layer: Layer.Layer<ClusterRanges, never, KubeClient> = Layer.effect(
    ClusterRanges,
    Effect.gen(function* () {
      const kube = yield* KubeClient
      const current = yield* discoverClusterRanges.pipe(
        Effect.provideService(KubeClient, kube),
        Effect.cachedWithTTL((exit) => (Exit.isSuccess(exit) ? TIME_TO_LIVE : 0)),
      )
      return ClusterRanges.of({ current })
    }),
  )

  /** Fixed ranges, for tests that are not about discovery. */
  static readonly layerFixed = (snapshot: ClusterRangesSnapshot = EMPTY_CLUSTER_RANGES): Layer.Layer<ClusterRanges> =>
    Layer.succeed(ClusterRanges, ClusterRanges.of({ current: Effect.succeed(snapshot) }))
}
