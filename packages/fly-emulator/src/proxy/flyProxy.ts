import { Context, Effect, Layer } from "effect"
import { EdgeTls } from "../edge/edgeTls.ts"
import { EmulatorNetwork } from "../network/emulatorNetwork.ts"
import { makeHealthChecks } from "./healthChecks.ts"
import { ProxyError } from "./proxyError.ts"
import { type ProxyBackend, type ProxyRoute, routeKey, type WatchedCheck } from "./proxyRoute.ts"
import { forwardTcp } from "./tcpForwarding.ts"
import { makeInterceptorCredentials } from "./tlsInterception.ts"
import { forwardUdp, type UdpCounters } from "./udpForwarding.ts"

/** One public address, port and protocol; on a shared IPv4, one route per App behind it. */
interface Listener {
  routes: ReadonlyArray<ProxyRoute>
  close: () => void
}

/**
 * The Fly proxy: listens on the apps' public IPs and ports (in the emulator network) and forwards
 * to healthy machines — TCP raw, with a PROXY header (`proxy_proto`), or through the edge's TLS and HTTP
 * handlers (tcpForwarding.ts) to their primary address, UDP datagrams only to their `fly-global-services`
 * address and back. Its table is replaced as a
 * whole by `sync`; a listener lives while some route names it. Its health checker also probes the
 * checks of every running machine it is told to watch, for the API's `checks`.
 */
export class FlyProxy extends Context.Service<
  FlyProxy,
  {
    /** Makes the listeners and backends exactly these routes; fails naming listeners it could not open. */
    readonly sync: (routes: ReadonlyArray<ProxyRoute>) => Effect.Effect<void, ProxyError>
    /** Whether the proxy currently routes to this backend (its checks pass). */
    readonly isHealthy: (backend: ProxyBackend) => boolean
    /** Probes a running machine's checks at its primary address until `unwatchMachine`. */
    readonly watchMachine: (machineId: string, address: string, checks: ReadonlyArray<WatchedCheck>) => void
    readonly unwatchMachine: (machineId: string) => void
    /** What the probes of a watched machine's checks last saw, by check name. */
    readonly observations: (
      machineId: string,
    ) => ReadonlyMap<string, { readonly passing: boolean; readonly output: string; readonly since: string }>
    readonly stats: () => Readonly<UdpCounters & { readonly tlsInterceptedConnections: number }>
  }
>()("@fly-tunnel-operator/fly-emulator/proxy/FlyProxy") {
  static readonly layer = Layer.effect(
    FlyProxy,
    Effect.gen(function* () {
      const network = yield* EmulatorNetwork
      const ca = yield* EdgeTls
      const health = makeHealthChecks()
      const listeners = new Map<string, Listener>()
      const counters: UdpCounters = { udpDatagramsForwarded: 0, udpRepliesForwarded: 0, udpRepliesDropped: 0 }
      let tlsInterceptedConnections = 0
      const interceptor = {
        credentials: yield* Effect.promise(makeInterceptorCredentials),
        onIntercepted: () => {
          tlsInterceptedConnections += 1
        },
      }
      yield* Effect.addFinalizer(() =>
        Effect.sync(() => {
          for (const listener of listeners.values()) listener.close()
          listeners.clear()
          health.close()
        }),
      )
      const healthyBackends = (route: ProxyRoute) => route.backends.filter(health.isHealthy)

      const open = (routes: ReadonlyArray<ProxyRoute>, first: ProxyRoute) =>
        Effect.gen(function* () {
          // `sync` swaps `routes` in place, so connections always see the latest backends.
          const listener: Listener = { routes, close: () => {} }
          const forwarding =
            first.protocol === "tcp"
              ? forwardTcp(
                  yield* network.listenTcp(first.publicIp, first.port),
                  () => listener.routes,
                  healthyBackends,
                  ca,
                  interceptor,
                )
              : forwardUdp(
                  yield* network.bindUdp(first.publicIp, first.port),
                  // UDP is carried on a dedicated IPv4 only: one App per listener.
                  () => listener.routes[0] ?? first,
                  healthyBackends,
                  counters,
                )
          listener.close = forwarding.close
          return listener
        })

      const sync = Effect.fn("FlyProxy.sync")(function* (routes: ReadonlyArray<ProxyRoute>) {
        const wanted = new Map<string, Array<ProxyRoute>>()
        for (const route of routes) wanted.set(routeKey(route), [...(wanted.get(routeKey(route)) ?? []), route])
        health.watch(routes.flatMap((route) => route.backends))
        for (const [key, listener] of listeners) {
          if (wanted.has(key)) continue
          listener.close()
          listeners.delete(key)
        }
        const failures: Array<string> = []
        for (const [key, group] of wanted) {
          const existing = listeners.get(key)
          if (existing) {
            existing.routes = group
            continue
          }
          const [first] = group
          if (first === undefined) continue
          const opened = yield* open(group, first).pipe(
            Effect.catch((error) => Effect.sync(() => void failures.push(error.message))),
          )
          if (opened) listeners.set(key, opened)
        }
        if (failures.length > 0) return yield* new ProxyError({ message: failures.join("; ") })
      })

      return {
        sync,
        isHealthy: health.isHealthy,
        watchMachine: health.watchMachine,
        unwatchMachine: health.unwatchMachine,
        observations: health.observations,
        stats: () => ({ ...counters, tlsInterceptedConnections }),
      }
    }),
  )
}
