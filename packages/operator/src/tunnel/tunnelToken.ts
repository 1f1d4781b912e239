import { randomBytes } from "node:crypto"
import { FlyClient } from "@fly-tunnel-operator/fly"
import { Env } from "@fly-tunnel-operator/frp"
import { Effect, Option } from "effect"
import { KubeClient } from "../kube/kubeClient.ts"
import * as ResourceType from "../kube/resourceType.ts"
import { blockedByFly } from "./tunnelBlocked.ts"
import { frpcObjectName, type TunnelIdentity, tunnelLabels } from "./tunnelNames.ts"
import { TunnelSettings } from "./tunnelSettings.ts"

/** Key of the token in the tunnel's Secret; frpc reads it as env, never from a file or a ConfigMap. */
export const TOKEN_KEY = "token"

/** Annotations on the Secret that record which Fly App the token was pushed to, and the secrets version it made. */
export const PushedAnnotations = {
  appId: "fly-tunnel-operator.dev/token-pushed-to-app",
  secretsVersion: "fly-tunnel-operator.dev/fly-secrets-version",
} as const

export interface KubeSecret {
  readonly apiVersion?: string
  readonly kind?: string
  readonly metadata: {
    readonly name: string
    readonly namespace: string
    readonly resourceVersion?: string
    readonly annotations?: Readonly<Record<string, string>>
    readonly labels?: Readonly<Record<string, string>>
  }
  readonly type?: string
  readonly data?: Readonly<Record<string, string>>
}

export const SecretType = ResourceType.Secret as unknown as ResourceType.ResourceType<KubeSecret>

const findSecret = (kube: KubeClient["Service"], name: string, namespace: string) =>
  kube.get(SecretType, name, namespace).pipe(
    Effect.map(Option.some),
    Effect.catchTag("KubeNotFound", () => Effect.succeedNone),
  )

/**
 * The tunnel's Secret with its random frp token: created once, then the single source of truth. The token never
 * leaves Kubernetes Secrets except as a Fly app secret.
 */
export const ensureTokenSecret = Effect.fn("ensureTokenSecret")(function* (tunnel: TunnelIdentity) {
  const kube = yield* KubeClient
  const settings = yield* TunnelSettings
  const name = frpcObjectName(tunnel)
  const existing = yield* findSecret(kube, name, settings.operatorNamespace)
  if (Option.isSome(existing) && existing.value.data?.[TOKEN_KEY] !== undefined) return existing.value
  const token = randomBytes(32).toString("hex")
  return yield* kube
    .create(SecretType, {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name, namespace: settings.operatorNamespace, labels: tunnelLabels(tunnel) },
      type: "Opaque",
      data: { [TOKEN_KEY]: Buffer.from(token).toString("base64") },
    })
    .pipe(
      // Another reconcile made it first: use theirs.
      Effect.catchTag("KubeConflict", () => kube.get(SecretType, name, settings.operatorNamespace)),
    )
})

export const tokenOf = (secret: KubeSecret): string => Buffer.from(secret.data?.[TOKEN_KEY] ?? "", "base64").toString()

/**
 * Pushes the token to the App as the secret frps reads, once per App (a rebuilt App has a new id and gets it again).
 * Returns the secrets version Machines must boot with.
 */
export const ensureFlySecret = Effect.fn("ensureFlySecret")(function* (
  secret: KubeSecret,
  app: { readonly id: string; readonly name: string },
) {
  const annotations = secret.metadata.annotations ?? {}
  const pushedVersion = Number(annotations[PushedAnnotations.secretsVersion])
  if (annotations[PushedAnnotations.appId] === app.id && Number.isInteger(pushedVersion)) return pushedVersion
  const fly = yield* FlyClient
  const kube = yield* KubeClient
  const { version } = yield* fly.setSecrets(app.name, { [Env.token]: tokenOf(secret) })
  yield* kube.mergePatch(SecretType, secret.metadata.name, secret.metadata.namespace, {
    metadata: {
      annotations: { [PushedAnnotations.appId]: app.id, [PushedAnnotations.secretsVersion]: String(version) },
    },
  })
  return version
}, blockedByFly("AppReady"))
