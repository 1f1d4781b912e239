import { createHash } from "node:crypto"
import { DEFAULT_FRPC_RESOURCES, type FlyTunnelSpec, GROUP } from "@fly-tunnel-operator/api"
import { Env } from "@fly-tunnel-operator/frp"
import type { V1Deployment } from "@kubernetes/client-node"
import { frpcDeploymentName, frpcObjectName, type TunnelIdentity, tunnelLabels } from "./tunnelNames.ts"
import { configKey, TlsKeys, TOKEN_KEY } from "./tunnelSecret.ts"

const CONFIG_DIR = "/etc/frp"
const CONFIG_FILE = "frpc.toml"
const TLS_DIR = "/etc/frp/tls"
/** Where frpc finds the CA bundle it verifies frps against, and its own pair (mounted from the tunnel's Secret). */
export const FRPC_TLS_FILES = {
  trustedCaFile: `${TLS_DIR}/ca.crt`,
  certFile: `${TLS_DIR}/tls.crt`,
  keyFile: `${TLS_DIR}/tls.key`,
} as const
export const REGION_LABEL = `${GROUP}/region`
/** On the Deployment: a digest of everything the operator sets, so an unchanged one is not applied again. */
export const SPEC_HASH_ANNOTATION = `${GROUP}/spec-hash`
/** On the Pod template: what frpc reads at start (its config, token and certificates), so a change rolls the Pods. */
export const CONFIG_CHECKSUM_ANNOTATION = `${GROUP}/config-checksum`

export interface FrpcClientPlan {
  readonly region: string
  readonly toml: string
}

const quantities = (list: { readonly cpu?: string | number; readonly memory?: string | number } | undefined) =>
  list === undefined
    ? undefined
    : Object.fromEntries(
        Object.entries(list).flatMap(([name, value]) => (value === undefined ? [] : [[name, String(value)]])),
      )

/**
 * The frpc Deployment of one Machine: it dials that Machine's own control port. Its Pods pass Pod
 * Security "restricted" and get the token as env from the tunnel's Secret.
 */
export const frpcDeployment = (
  tunnel: TunnelIdentity,
  spec: FlyTunnelSpec,
  image: string,
  namespace: string,
  client: FrpcClientPlan,
  /** Digest of the token and certificates frpc reads at start: when they change, the Pods roll. */
  secretsDigest: string,
): V1Deployment => {
  const labels = { ...tunnelLabels(tunnel), [REGION_LABEL]: client.region }
  const checksum = createHash("sha256").update(client.toml).update(secretsDigest).digest("hex")
  const hasUdp = spec.ports.some((port) => port.protocol === "UDP")
  const resources = spec.frpc.resources ?? DEFAULT_FRPC_RESOURCES
  const requests = quantities(resources.requests)
  const limits = quantities(resources.limits)
  const deployment: V1Deployment = {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: frpcDeploymentName(tunnel, client.region), namespace, labels },
    spec: {
      replicas: spec.frpc.replicas,
      selector: { matchLabels: labels },
      // UDP proxies cannot share a port between two frpc (no frp groups for UDP): replace, do not overlap.
      strategy: hasUdp
        ? { type: "Recreate" }
        : { type: "RollingUpdate", rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
      template: {
        metadata: { labels, annotations: { [CONFIG_CHECKSUM_ANNOTATION]: checksum } },
        spec: {
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          securityContext: {
            runAsNonRoot: true,
            runAsUser: 65532,
            runAsGroup: 65532,
            // The key files are group-readable (0440) for this group only.
            fsGroup: 65532,
            seccompProfile: { type: "RuntimeDefault" },
          },
          ...(spec.frpc.nodeSelector === undefined ? {} : { nodeSelector: { ...spec.frpc.nodeSelector } }),
          ...(spec.frpc.tolerations === undefined
            ? {}
            : { tolerations: spec.frpc.tolerations.map((toleration) => ({ ...toleration })) }),
          containers: [
            {
              name: "frpc",
              image,
              args: ["-c", `${CONFIG_DIR}/${CONFIG_FILE}`],
              env: [
                { name: Env.token, valueFrom: { secretKeyRef: { name: frpcObjectName(tunnel), key: TOKEN_KEY } } },
                { name: Env.podName, valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
              ],
              volumeMounts: [
                { name: "config", mountPath: CONFIG_DIR, readOnly: true },
                { name: "tls", mountPath: TLS_DIR, readOnly: true },
              ],
              resources: {
                ...(requests === undefined ? {} : { requests }),
                ...(limits === undefined ? {} : { limits }),
              },
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
              secret: {
                secretName: frpcObjectName(tunnel),
                items: [{ key: configKey(client.region), path: CONFIG_FILE }],
              },
            },
            {
              name: "tls",
              secret: {
                secretName: frpcObjectName(tunnel),
                // frpc's own pair and the CA bundle only: frps's key never reaches the cluster's Pods.
                items: [
                  { key: TlsKeys.trust, path: "ca.crt" },
                  { key: TlsKeys.clientCert, path: "tls.crt" },
                  { key: TlsKeys.clientKey, path: "tls.key" },
                ],
                defaultMode: 0o440,
              },
            },
          ],
        },
      },
    },
  }
  const hash = createHash("sha256").update(JSON.stringify(deployment)).digest("hex").slice(0, 16)
  return { ...deployment, metadata: { ...deployment.metadata, annotations: { [SPEC_HASH_ANNOTATION]: hash } } }
}

/** Rolled out: every replica runs the current template and is available. */
export const clientRolledOut = (deployment: V1Deployment): boolean => {
  const replicas = deployment.spec?.replicas ?? 1
  const status = deployment.status
  return (
    (status?.observedGeneration ?? 0) >= (deployment.metadata?.generation ?? 1) &&
    (status?.updatedReplicas ?? 0) >= replicas &&
    (status?.availableReplicas ?? 0) >= replicas
  )
}
