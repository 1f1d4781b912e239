import { createHash } from "node:crypto"
import { DEFAULT_FRPC_RESOURCES, type FlyTunnelSpec, Labels } from "@fly-tunnel-operator/api"
import { Env, frpcConfig, renderFrpcToml } from "@fly-tunnel-operator/frp"
import { Effect } from "effect"
import { KubeClient } from "../kube/kubeClient.ts"
import * as ResourceType from "../kube/resourceType.ts"
import type { TunnelMachine } from "./flyMachines.ts"
import { type DeploymentObject, DeploymentType } from "./kubeObjects.ts"
import { frpcDeploymentName, frpcObjectName, type TunnelIdentity, tunnelLabels } from "./tunnelNames.ts"
import { TunnelSettings } from "./tunnelSettings.ts"
import { type KubeSecret, SecretType, TOKEN_KEY } from "./tunnelToken.ts"

const CONFIG_FILE = "frpc.toml"
const REGION_LABEL = "fly-tunnel-operator.dev/region"
const CONFIG_DIR = "/etc/frp"

/**
 * frpc for the tunnel: its config (with the token reference, never the token) and the token in one Secret, and a
 * Deployment that passes Pod Security "restricted". Applied server-side: an unchanged object is not written.
 */
export const ensureClient = Effect.fn("ensureClient")(function* (
  tunnel: TunnelIdentity,
  spec: FlyTunnelSpec,
  secret: KubeSecret,
  address: string,
  machines: ReadonlyArray<TunnelMachine>,
  target: string,
) {
  const kube = yield* KubeClient
  const settings = yield* TunnelSettings
  const name = frpcObjectName(tunnel)
  const namespace = settings.operatorNamespace
  const labels = tunnelLabels(tunnel)
  // One frpc Deployment per Machine, each dialling that Machine's own control port through the shared address.
  const clients = machines.map((entry) => ({
    region: entry.machine.region,
    toml: renderFrpcToml(
      frpcConfig({
        serverAddr: address,
        serverPort: entry.controlPort,
        localIP: target,
        // No admin API: readiness comes from Fly's checks on the tunnel ports, and Pods share no port.
        adminPort: 0,
        ports: spec.ports.map((port) => ({
          name: port.name,
          protocol: port.protocol,
          port: port.port,
          targetPort: port.targetPort ?? port.port,
        })),
      }),
    ),
  }))
  const token = secret.data?.[TOKEN_KEY] ?? ""
  yield* kube.apply(SecretType, {
    apiVersion: "v1",
    kind: "Secret",
    metadata: {
      name,
      namespace,
      labels,
      // Kept as they are: they record where the token was pushed.
      ...(secret.metadata.annotations === undefined ? {} : { annotations: secret.metadata.annotations }),
    },
    type: "Opaque",
    data: {
      [TOKEN_KEY]: token,
      ...Object.fromEntries(
        clients.map((client) => [configKey(client.region), Buffer.from(client.toml).toString("base64")]),
      ),
    },
  })
  const deployments = yield* Effect.forEach(clients, (client) =>
    kube.apply(DeploymentType, clientDeployment(tunnel, spec, settings.frpcImage, namespace, client, token)),
  )
  const current = new Set(clients.map((client) => frpcDeploymentName(tunnel, client.region)))
  const existing = yield* kube.list(DeploymentType, { namespace, labelSelector: `${Labels.tunnelUid}=${tunnel.uid}` })
  yield* Effect.forEach(
    existing.items.filter((deployment) => !current.has(deployment.metadata?.name ?? "")),
    (stale) =>
      kube
        .delete(ResourceType.Deployment, stale.metadata?.name ?? "", namespace)
        .pipe(Effect.catchTag("KubeNotFound", () => Effect.void)),
    { discard: true },
  )
  return deployments
})

const configKey = (region: string) => `frpc-${region}.toml`

const clientDeployment = (
  tunnel: TunnelIdentity,
  spec: FlyTunnelSpec,
  image: string,
  namespace: string,
  client: { readonly region: string; readonly toml: string },
  token: string,
): DeploymentObject => {
  const name = frpcObjectName(tunnel)
  const labels = { ...tunnelLabels(tunnel), [REGION_LABEL]: client.region }
  const checksum = createHash("sha256").update(client.toml).update(token).digest("hex")
  const hasUdp = spec.ports.some((port) => port.protocol === "UDP")
  const resources = spec.frpc?.resources ?? DEFAULT_FRPC_RESOURCES
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: frpcDeploymentName(tunnel, client.region), namespace, labels },
    spec: {
      replicas: spec.frpc?.replicas ?? 1,
      selector: { matchLabels: labels },
      // UDP proxies cannot share a port between two frpc (no frp groups for UDP): replace, do not overlap.
      strategy: hasUdp
        ? { type: "Recreate" }
        : { type: "RollingUpdate", rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
      template: {
        metadata: { labels, annotations: { "fly-tunnel-operator.dev/config-checksum": checksum } },
        spec: {
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          securityContext: {
            runAsNonRoot: true,
            runAsUser: 65532,
            runAsGroup: 65532,
            seccompProfile: { type: "RuntimeDefault" },
          },
          ...(spec.frpc?.nodeSelector === undefined ? {} : { nodeSelector: { ...spec.frpc.nodeSelector } }),
          ...(spec.frpc?.tolerations === undefined
            ? {}
            : { tolerations: spec.frpc.tolerations.map((toleration) => ({ ...toleration })) }),
          containers: [
            {
              name: "frpc",
              image,
              args: ["-c", `${CONFIG_DIR}/${CONFIG_FILE}`],
              env: [
                { name: Env.token, valueFrom: { secretKeyRef: { name, key: TOKEN_KEY } } },
                { name: Env.podName, valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
              ],
              volumeMounts: [{ name: "config", mountPath: CONFIG_DIR, readOnly: true }],
              resources: JSON.parse(JSON.stringify(resources)),
              securityContext: {
                allowPrivilegeEscalation: false,
                readOnlyRootFilesystem: true,
                runAsNonRoot: true,
                capabilities: { drop: ["ALL"] },
              },
            },
          ],
          volumes: [
            {
              name: "config",
              secret: { secretName: name, items: [{ key: configKey(client.region), path: CONFIG_FILE }] },
            },
          ],
        },
      },
    },
  }
}

/** Rolled out: every replica runs the current template and is available. */
export const clientRolledOut = (deployment: DeploymentObject): boolean => {
  const replicas = deployment.spec?.replicas ?? 1
  const status = deployment.status
  return (
    (status?.observedGeneration ?? 0) >= (deployment.metadata?.generation ?? 1) &&
    (status?.updatedReplicas ?? 0) >= replicas &&
    (status?.availableReplicas ?? 0) >= replicas
  )
}
