import { chmod, mkdir, writeFile } from "node:fs/promises"
import { join } from "node:path"
import type { CoreV1Api, V1Container, V1EnvVar, V1Pod, V1ProjectedVolumeSource } from "@kubernetes/client-node"
import { podServiceAccountToken } from "./serviceAccountCredentials.ts"

/** What a Pod's container turns into on this node: a command line, an environment, and materialized volumes. */
export interface ResolvedContainer {
  readonly command: ReadonlyArray<string>
  readonly env: Readonly<Record<string, string>>
}

export class PodResolutionError extends Error {
  override readonly name = "PodResolutionError"
}

const decodeSecretData = (data: Record<string, string> | undefined): Record<string, Buffer> =>
  Object.fromEntries(Object.entries(data ?? {}).map(([key, value]) => [key, Buffer.from(value, "base64")]))

const textData = (data: Record<string, string> | undefined): Record<string, Buffer> =>
  Object.fromEntries(Object.entries(data ?? {}).map(([key, value]) => [key, Buffer.from(value)]))

/**
 * The files of a projected volume, by path: the kubelet's kube-api-access volume (a bound ServiceAccount token, the
 * cluster CA from kube-root-ca.crt, the namespace) and any other mix of those sources.
 */
const projectedFiles = async (
  core: CoreV1Api,
  pod: V1Pod,
  volume: { readonly name: string; readonly projected: V1ProjectedVolumeSource },
): Promise<Record<string, Buffer>> => {
  const namespace = pod.metadata?.namespace ?? "default"
  const files: Record<string, Buffer> = {}
  const pick = (data: Record<string, Buffer>, items: ReadonlyArray<{ key: string; path: string }> | undefined) => {
    for (const item of items ?? Object.keys(data).map((key) => ({ key, path: key }))) {
      const content = data[item.key]
      if (content === undefined) throw new PodResolutionError(`volume ${volume.name}: key ${item.key} not found`)
      files[item.path] = content
    }
  }
  for (const source of volume.projected.sources ?? []) {
    if (source.serviceAccountToken !== undefined) {
      const { path, expirationSeconds, audience } = source.serviceAccountToken
      files[path] = Buffer.from(
        await podServiceAccountToken(core, pod, {
          ...(expirationSeconds === undefined ? {} : { expirationSeconds }),
          ...(audience === undefined ? {} : { audiences: [audience] }),
        }),
      )
    } else if (source.configMap?.name !== undefined) {
      const configMap = await core.readNamespacedConfigMap({ name: source.configMap.name, namespace }).catch(() => {
        throw new PodResolutionError(
          `configMap ${namespace}/${source.configMap?.name} for volume ${volume.name} not found`,
        )
      })
      pick(textData(configMap.data), source.configMap.items)
    } else if (source.secret?.name !== undefined) {
      const secret = await core.readNamespacedSecret({ name: source.secret.name, namespace }).catch(() => {
        throw new PodResolutionError(`secret ${namespace}/${source.secret?.name} for volume ${volume.name} not found`)
      })
      pick(decodeSecretData(secret.data), source.secret.items)
    } else if (source.downwardAPI !== undefined) {
      for (const item of source.downwardAPI.items ?? []) {
        if (item.fieldRef === undefined) {
          throw new PodResolutionError(`volume ${volume.name}: only fieldRef downward API items are supported`)
        }
        files[item.path] = Buffer.from(fieldValue(pod, item.fieldRef.fieldPath, "", ""))
      }
    } else {
      throw new PodResolutionError(`volume ${volume.name}: a projected source of an unsupported kind`)
    }
  }
  return files
}

/**
 * Writes the Pod's secret, configMap, projected and emptyDir volumes under `root`, returning volume name → host
 * directory.
 */
export const materializeVolumes = async (
  core: CoreV1Api,
  pod: V1Pod,
  root: string,
): Promise<ReadonlyMap<string, string>> => {
  const namespace = pod.metadata?.namespace ?? "default"
  const dirs = new Map<string, string>()
  for (const volume of pod.spec?.volumes ?? []) {
    const dir = join(root, "volumes", volume.name)
    await mkdir(dir, { recursive: true })
    dirs.set(volume.name, dir)
    let files: Record<string, Buffer> = {}
    let mode = 0o644
    let items: ReadonlyArray<{ key: string; path: string; mode?: number }> | undefined
    if (volume.secret?.secretName !== undefined) {
      const secret = await core.readNamespacedSecret({ name: volume.secret.secretName, namespace }).catch(() => {
        throw new PodResolutionError(
          `secret ${namespace}/${volume.secret?.secretName} for volume ${volume.name} not found`,
        )
      })
      files = decodeSecretData(secret.data)
      mode = volume.secret.defaultMode ?? mode
      items = volume.secret.items
    } else if (volume.configMap?.name !== undefined) {
      const configMap = await core.readNamespacedConfigMap({ name: volume.configMap.name, namespace }).catch(() => {
        throw new PodResolutionError(
          `configMap ${namespace}/${volume.configMap?.name} for volume ${volume.name} not found`,
        )
      })
      files = textData(configMap.data)
      mode = volume.configMap.defaultMode ?? mode
      items = volume.configMap.items
    } else if (volume.projected !== undefined) {
      files = await projectedFiles(core, pod, { name: volume.name, projected: volume.projected })
      mode = volume.projected.defaultMode ?? mode
    } else if (volume.emptyDir === undefined) {
      throw new PodResolutionError(
        `volume ${volume.name}: only secret, configMap, projected and emptyDir volumes are supported`,
      )
    }
    const selected =
      items ?? Object.keys(files).map((key): { key: string; path: string; mode?: number } => ({ key, path: key }))
    for (const item of selected) {
      const content = files[item.key]
      if (content === undefined) throw new PodResolutionError(`volume ${volume.name}: key ${item.key} not found`)
      const path = join(dir, item.path)
      await writeFile(path, content)
      await chmod(path, item.mode ?? mode)
    }
  }
  return dirs
}

const fieldValue = (pod: V1Pod, fieldPath: string, nodeName: string, podIp: string): string => {
  switch (fieldPath) {
    case "metadata.name":
      return pod.metadata?.name ?? ""
    case "metadata.namespace":
      return pod.metadata?.namespace ?? ""
    case "metadata.uid":
      return pod.metadata?.uid ?? ""
    case "spec.nodeName":
      return nodeName
    case "spec.serviceAccountName":
      return pod.spec?.serviceAccountName ?? ""
    case "status.podIP":
    case "status.hostIP":
      return podIp
    default:
      throw new PodResolutionError(`downward API field ${fieldPath} is not supported by the local node agent`)
  }
}

const envValue = async (
  core: CoreV1Api,
  pod: V1Pod,
  variable: V1EnvVar,
  context: { nodeName: string; podIp: string },
): Promise<string | undefined> => {
  const namespace = pod.metadata?.namespace ?? "default"
  const from = variable.valueFrom
  if (from === undefined) return variable.value ?? ""
  if (from.secretKeyRef !== undefined) {
    const ref = from.secretKeyRef
    const secret = await core.readNamespacedSecret({ name: ref.name ?? "", namespace }).catch(() => undefined)
    const value = secret?.data?.[ref.key]
    if (value === undefined && ref.optional !== true) {
      throw new PodResolutionError(`env ${variable.name}: secret ${namespace}/${ref.name} key ${ref.key} not found`)
    }
    return value === undefined ? undefined : Buffer.from(value, "base64").toString()
  }
  if (from.configMapKeyRef !== undefined) {
    const ref = from.configMapKeyRef
    const configMap = await core.readNamespacedConfigMap({ name: ref.name ?? "", namespace }).catch(() => undefined)
    const value = configMap?.data?.[ref.key]
    if (value === undefined && ref.optional !== true) {
      throw new PodResolutionError(`env ${variable.name}: configMap ${namespace}/${ref.name} key ${ref.key} not found`)
    }
    return value
  }
  if (from.fieldRef !== undefined) return fieldValue(pod, from.fieldRef.fieldPath, context.nodeName, context.podIp)
  throw new PodResolutionError(
    `env ${variable.name}: only value, secretKeyRef, configMapKeyRef and fieldRef are supported`,
  )
}

/**
 * Resolves a container to a host command: the image entrypoint becomes the real binary, and any argument or env value
 * that points into a volume mount is rewritten to the materialized directory (there is no mount namespace).
 */
export const resolveContainer = async (
  core: CoreV1Api,
  pod: V1Pod,
  container: V1Container,
  context: {
    /** The host command that stands in for the image's entrypoint. */
    readonly entrypoint: ReadonlyArray<string>
    /** What a container `command` may name (the image's own binary); none: the image's entrypoint only. */
    readonly command?: RegExp
    readonly volumes: ReadonlyMap<string, string>
    readonly nodeName: string
    readonly podIp: string
    /** Set for the process besides the container's env (KUBECONFIG for the service account). */
    readonly extraEnv?: Readonly<Record<string, string>>
  },
): Promise<ResolvedContainer> => {
  const mounts = (container.volumeMounts ?? []).map((mount) => {
    const dir = context.volumes.get(mount.name)
    if (dir === undefined) throw new PodResolutionError(`volumeMount ${mount.name} has no volume`)
    return { mountPath: mount.mountPath.replace(/\/$/, ""), hostPath: mount.subPath ? join(dir, mount.subPath) : dir }
  })
  // The deepest mount holding a path is the one it is in, as with nested mounts in a container (a Secret at
  // /etc/frp/tls inside a volume at /etc/frp).
  const deepestFirst = [...mounts].sort((a, b) => b.mountPath.length - a.mountPath.length)
  const toHost = (argument: string): string => {
    for (const mount of deepestFirst) {
      if (argument === mount.mountPath || argument.startsWith(`${mount.mountPath}/`)) {
        return mount.hostPath + argument.slice(mount.mountPath.length)
      }
    }
    return argument
  }
  const [entrypoint, ...commandArgs] = container.command ?? []
  const argv = [...commandArgs, ...(container.args ?? [])].map(toHost)
  if (entrypoint !== undefined && (context.command === undefined || !context.command.test(entrypoint))) {
    throw new PodResolutionError(`command ${entrypoint} is not the image's own; the local node agent cannot run it`)
  }
  const env: Record<string, string> = {}
  for (const variable of container.env ?? []) {
    const value = await envValue(core, pod, variable, context)
    // A path into a volume (FLY_API_TOKEN_FILE) points at the materialized directory, as arguments do.
    if (value !== undefined) env[variable.name] = toHost(value)
  }
  return { command: [...context.entrypoint, ...argv], env: { ...env, ...context.extraEnv } }
}
