import { createHash } from "node:crypto"
import { DEFAULT_FRPC_RESOURCES, type FlyTunnelSpec, GROUP } from "@fly-tunnel-operator/api"
import { Env } from "@fly-tunnel-operator/frp"
import type { V1Deployment } from "@kubernetes/client-node"
import { type FrpsSlot, slotKey } from "./frpsSlot.ts"
import { frpcDeploymentName, frpcObjectName, type TunnelIdentity, tunnelLabels } from "./tunnelNames.ts"
import { configKey, TlsKeys, TOKEN_KEY } from "./tunnelSecret.ts"

const CONFIG_DIR = "/etc/frp"
const CONFIG_FILE = "frpc.toml"
const TLS_DIR = "/etc/frp/tls"
/**
 * Where frpc finds the CA bundle it verifies frps against, and its own pair (mounted from the tunnel's Secret): names
 * in the directory the Pod gives as `FRPC_TLS_DIR`, the volume's mount path.
 */
export const FRPC_TLS_FILES = {
  trustedCaFile: "ca.crt",
  certFile: "tls.crt",
  keyFile: "tls.key",
  directoryEnv: Env.tlsDir,
} as const
export const REGION_LABEL = `${GROUP}/region`
/** `udp` on the frpc of a UDP Machine; absent on the TCP one's, whose selector must stay what it was. */
export const ROLE_LABEL = `${GROUP}/role`
/**
 * How long a UDP frpc Pod must run before its Deployment counts as available. UDP has no Fly check, so this is how
 * readiness is known: frpc exits when its first login fails (`loginFailExit`, after at most its 10 s dial timeout),
 * and frps binds the UDP ports on `fly-global-services` as part of that login; a Pod still running after this long
 * has logged in and its datagrams can flow.
 */
export const UDP_MIN_READY_SECONDS = 15
/** On the Deployment: a digest of everything the operator sets, so an unchanged one is not applied again. */
export const SPEC_HASH_ANNOTATION = `${GROUP}/spec-hash`
/** On the Pod template: what frpc reads at start (its config, token and certificates), so a change rolls the Pods. */
export const CONFIG_CHECKSUM_ANNOTATION = `${GROUP}/config-checksum`

export interface FrpcClientPlan {
  readonly slot: FrpsSlot
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
  const udp = client.slot.role === "udp"
  const labels = {
    ...tunnelLabels(tunnel),
    [REGION_LABEL]: client.slot.region,
    ...(udp ? { [ROLE_LABEL]: client.slot.role } : {}),
  }
  const checksum = createHash("sha256").update(client.toml).update(secretsDigest).digest("hex")
  const resources = spec.frpc.resources ?? DEFAULT_FRPC_RESOURCES
  const requests = quantities(resources.requests)
  const limits = quantities(resources.limits)
  const deployment: V1Deployment = {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: frpcDeploymentName(tunnel, slotKey(client.slot)), namespace, labels },
    spec: {
      // UDP proxies cannot share a port between two frpc (no frp groups for UDP): one Pod, replaced, never overlapped.
      replicas: udp ? 1 : spec.frpc.replicas,
      selector: { matchLabels: labels },
      ...(udp ? { minReadySeconds: UDP_MIN_READY_SECONDS } : {}),
      strategy: udp
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
                { name: Env.tlsDir, value: TLS_DIR },
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
                items: [{ key: configKey(slotKey(client.slot)), path: CONFIG_FILE }],
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
