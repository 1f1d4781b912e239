import { type FlyTunnelSpec, Labels } from "@fly-tunnel-operator/api"
import { type FrpcConfig, frpcConfig, renderFrpcToml } from "@fly-tunnel-operator/frp"
import type { V1Secret } from "@kubernetes/client-node"
import { Effect, type Option } from "effect"
import { KubeCache } from "../kube/kubeCache.ts"
import { KubeClient } from "../kube/kubeClient.ts"
import { Deployment } from "../kube/resourceType.ts"
import { clientRolledOut, FRPC_TLS_FILES, frpcDeployment, SPEC_HASH_ANNOTATION } from "./frpcDeployment.ts"
import type { FrpsMachinePlan } from "./frpsMachineConfig.ts"
import { portsOfRole, slotKey } from "./frpsSlot.ts"
import { frpsServerName, type TunnelTls } from "./tunnelCertificates.ts"
import { frpcDeploymentName, type TunnelIdentity } from "./tunnelNames.ts"
import { clientTlsDigest, tokenDigest, writeTunnelSecret } from "./tunnelSecret.ts"
import { TunnelSettings } from "./tunnelSettings.ts"

/**
 * The frpc config of one frps Machine: it dials that Machine's control port at the tunnel's address and registers the
 * ports that Machine serves (its TCP or its UDP ones), delivering them to the target.
 */
export const frpcConfigFor = (
  tunnel: TunnelIdentity,
  spec: FlyTunnelSpec,
  address: string,
  plan: FrpsMachinePlan,
  target: string,
): FrpcConfig =>
  frpcConfig({
    serverAddr: address,
    serverPort: plan.controlPort,
    localIP: target,
    tls: { ...FRPC_TLS_FILES, serverName: frpsServerName(tunnel) },
    // UDP has no Fly check: a UDP frpc that keeps running has logged in (see UDP_MIN_READY_SECONDS).
    loginFailExit: plan.role === "udp",
    ports: portsOfRole(spec, plan.role).map((port) => ({
      name: port.name,
      protocol: port.protocol,
      port: port.port,
      targetPort: port.targetPort ?? port.port,
    })),
  })

/**
 * frpc for the tunnel: one config per Machine in the tunnel's Secret (next to the token), and one
 * Deployment per Machine, each dialling that Machine's own control port through the shared
 * address and registering the ports that Machine serves (its TCP or its UDP ones). A plan `deferred`
 * says is not yet due — its Machine is not started, or not yet on the desired config — is neither
 * applied nor removed: frpc's first logins back off (1, 2, 4, 8 s), so one started before its frps
 * waited out up to a whole step after frps came up (measured: 0.1 to 2.1 s), longer than a Pod takes
 * to start; a UDP frpc ends at its first failed login (that is how its readiness is known); and
 * during a rollout, an frpc changed ahead of its Machine (a new token, certificate or control port)
 * could not log in to it, while the one it replaces still serves it.
 * A Deployment whose desired content did not change is not applied again. Returns whether every
 * one has rolled out, as the shared cache last saw them.
 */
export const ensureClient = Effect.fn("ensureClient")(function* (
  tunnel: TunnelIdentity,
  spec: FlyTunnelSpec,
  credentials: { readonly token: string; readonly tls: TunnelTls; readonly secret: Option.Option<V1Secret> },
  address: string,
  plans: ReadonlyArray<FrpsMachinePlan>,
  target: string,
  deferred: (plan: FrpsMachinePlan) => boolean = () => false,
) {
  const kube = yield* KubeClient
  const cache = yield* KubeCache
  const settings = yield* TunnelSettings
  const namespace = settings.operatorNamespace
  const clients = plans.map((plan) => ({
    slot: { region: plan.region, role: plan.role },
    deferred: deferred(plan),
    toml: renderFrpcToml(frpcConfigFor(tunnel, spec, address, plan, target)),
  }))
  yield* writeTunnelSecret(tunnel, credentials.secret, {
    token: credentials.token,
    tls: credentials.tls,
    configs: Object.fromEntries(clients.map((client) => [slotKey(client.slot), client.toml])),
  })
  // What frpc reads at start besides its config: a new token or new certificates roll the Pods.
  const digest = `${tokenDigest(credentials.token)}:${clientTlsDigest(credentials.tls)}`
  const existing = (yield* cache.deployments.list(namespace)).filter(
    (deployment) => deployment.metadata?.labels?.[Labels.tunnelUid] === tunnel.uid,
  )
  const rolledOut = yield* Effect.forEach(clients, (client) =>
    Effect.gen(function* () {
      const desired = frpcDeployment(tunnel, spec, settings.frpcImage, namespace, client, digest)
      const current = existing.find((deployment) => deployment.metadata?.name === desired.metadata?.name)
      if (client.deferred) return current !== undefined && clientRolledOut(current)
      const unchanged =
        current !== undefined &&
        current.metadata?.annotations?.[SPEC_HASH_ANNOTATION] === desired.metadata?.annotations?.[SPEC_HASH_ANNOTATION]
      // A Deployment just applied has not rolled out yet, whatever its previous status said.
      if (unchanged) return clientRolledOut(current)
      yield* kube.apply(Deployment, desired)
      return false
    }),
  )
  const wanted = new Set(clients.map((client) => frpcDeploymentName(tunnel, slotKey(client.slot))))
  yield* Effect.forEach(
    existing.filter((deployment) => !wanted.has(deployment.metadata?.name ?? "")),
    (stale) =>
      kube
        .delete(Deployment, stale.metadata?.name ?? "", namespace)
        .pipe(Effect.catchTag("KubeNotFound", () => Effect.void)),
    { discard: true },
  )
  return rolledOut.every(Boolean)
})

/** Stops carrying traffic: the tunnel's frpc Deployments go (the Fly side and the Secret stay). */
export const removeClients = Effect.fn("removeClients")(function* (tunnel: TunnelIdentity) {
  const kube = yield* KubeClient
  const cache = yield* KubeCache
  const settings = yield* TunnelSettings
  const existing = (yield* cache.deployments.list(settings.operatorNamespace)).filter(
    (deployment) => deployment.metadata?.labels?.[Labels.tunnelUid] === tunnel.uid,
  )
  yield* Effect.forEach(
    existing,
    (deployment) =>
      kube
        .delete(Deployment, deployment.metadata?.name ?? "", settings.operatorNamespace)
        .pipe(Effect.catchTag("KubeNotFound", () => Effect.void)),
    { discard: true },
  )
})
