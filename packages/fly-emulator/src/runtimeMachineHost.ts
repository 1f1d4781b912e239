import { Effect, Layer, ManagedRuntime } from "effect"
import type { EdgeCa } from "./edge/edgeCa.ts"
import { EdgeTls } from "./edge/edgeTls.ts"
import type { MachineHost } from "./machineHost.ts"
import { EmulatorNetwork, type MachineAddress } from "./network/emulatorNetwork.ts"
import { type NetworkMode, networkLayer } from "./network/networkLayer.ts"
import { FlyProxy } from "./proxy/flyProxy.ts"
import type { ProxyRoute as ListenerRoute } from "./proxy/proxyRoute.ts"
import { MachineRuntime } from "./runtime/machineRuntime.ts"

/**
 * The machine host backed by src/runtime, src/proxy and src/network: frps images run as real
 * processes in their own network namespace (or on loopback), public IPs come from the emulator
 * network and the Fly proxy listens on them. The proxy's health checker probes each running
 * machine's checks; the API reports what it sees.
 */
export const runtimeMachineHost = async (options: {
  frpsPath: string
  network: NetworkMode
  /** The edge's CA: the Fly proxy terminates TLS with certificates it issues. */
  edgeCa: EdgeCa
}): Promise<MachineHost> => {
  const runtime = ManagedRuntime.make(
    Layer.mergeAll(MachineRuntime.layer({ binaries: { frps: options.frpsPath } }), FlyProxy.layer).pipe(
      Layer.provideMerge(networkLayer(options.network)),
      Layer.provideMerge(EdgeTls.layer(options.edgeCa)),
    ),
  )
  const { machines, network, proxy } = await runtime.runPromise(
    Effect.all({ machines: MachineRuntime, network: EmulatorNetwork, proxy: FlyProxy }),
  )
  const places = new Map<string, MachineAddress>()

  const placeOf = async (id: string): Promise<MachineAddress> => {
    const known = places.get(id)
    if (known) return known
    const place = await runtime.runPromise(network.allocateMachineAddress(id))
    places.set(id, place)
    return place
  }

  return {
    startMachine: async (spec, onExit) => {
      const place = await placeOf(spec.id)
      await runtime.runPromise(
        machines.start(
          {
            id: spec.id,
            app: spec.app,
            instanceId: spec.instanceId,
            image: spec.image,
            region: spec.region,
            privateIp: spec.privateIp,
            config: spec.config,
            env: spec.env,
            secrets: spec.secrets,
            place,
          },
          onExit,
        ),
      )
      proxy.watchMachine(spec.id, place.address, spec.checks)
    },
    stopMachine: (id, stopOptions) => {
      proxy.unwatchMachine(id)
      return runtime.runPromise(machines.stop(id, stopOptions))
    },
    releaseMachine: async (id) => {
      proxy.unwatchMachine(id)
      if (!places.delete(id)) return
      await runtime.runPromise(network.releaseMachine(id))
    },
    allocatePublicIp: (type) => runtime.runPromise(network.allocatePublicIp(type)),
    releasePublicIp: (ip) => runtime.runPromise(network.releasePublicIp(ip)),
    syncProxy: (routes) => {
      // Machines without an address yet have not booted; the next sync includes them.
      const listeners: Array<ListenerRoute> = routes.map((route) => ({
        app: route.app,
        publicIp: route.ip,
        port: route.port,
        shared: route.ipType === "shared_v4",
        hostnames: route.hostnames,
        certifiedNames: route.certifiedNames,
        ...(route.forceHttps === true ? { forceHttps: true } : {}),
        protocol: route.protocol,
        handlers: route.handlers,
        proxyProto: route.proxyProtoVersion,
        interceptTls: route.interceptTls,
        backends: route.targets.flatMap((target) => {
          const place = places.get(target.machineId)
          return place
            ? [
                {
                  machineId: target.machineId,
                  address: place.address,
                  globalServices: place.globalServices,
                  internalPort: target.internalPort,
                  checks: target.checks,
                },
              ]
            : []
        }),
      }))
      return runtime.runPromise(proxy.sync(listeners))
    },
    // Public IPs are routable from the host in both network modes (loopback 127.x or routed namespace).
    publicAddress: (ip, port) => ({ host: ip, port }),
    checkObservations: (machineId) => proxy.observations(machineId),
    proxyStats: () => proxy.stats(),
    close: () => runtime.dispose(),
  }
}
