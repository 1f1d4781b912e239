import { Result, Schema } from "effect"
import type { ApiContext, ApiRequest } from "./apiContext.ts"
import { appId, ulid } from "./identifiers.ts"
import { failure, ok, type Reply } from "./reply.ts"
import { decodeBody } from "./requestBody.ts"
import type { AppRecord, IpRecord } from "./store.ts"

const CreateAppRequest = Schema.Struct({
  name: Schema.optionalKey(Schema.String),
  app_name: Schema.optionalKey(Schema.String),
  org_slug: Schema.optionalKey(Schema.String),
  network: Schema.optionalKey(Schema.String),
  idempotency_key: Schema.optionalKey(Schema.String),
})

/** flyctl's rule, with the live API's message (Fly's Apps API, flyctl's name rule). */
const validAppName = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/

export const appNotFound = (): Reply => failure(404, "app not found")

const machineCount = (context: ApiContext, app: AppRecord): number =>
  context.store.machinesOf(app.name).filter((machine) => machine.destroyedAt === undefined).length

export const appJson = (context: ApiContext, app: AppRecord) => ({
  id: app.id,
  name: app.name,
  status: machineCount(context, app) > 0 ? "deployed" : "pending",
  network: app.network,
  internal_numeric_id: app.internalNumericId,
  machine_count: machineCount(context, app),
  volume_count: 0,
  organization: { name: app.orgSlug, slug: app.orgSlug, internal_numeric_id: 1 },
})

const networkIndex = (context: ApiContext, orgSlug: string, network: string): number =>
  [...context.store.apps.values()].find((app) => app.orgSlug === orgSlug && app.network === network)?.networkIndex ??
  context.store.next()

/**
 * `POST /v1/apps`: 201 with the documented short answer `{id, created_at}`, or with `?wait=true` (what
 * fly-go's `flaps.CreateApp` sends, decoding the answer into its `App`) the whole App as GET answers it.
 */
export const createApp = (context: ApiContext, request: ApiRequest): Reply => {
  const decoded = decodeBody(CreateAppRequest, request.body)
  if (Result.isFailure(decoded)) return decoded.failure
  const body = decoded.success
  const created = (app: AppRecord): Reply =>
    ok(request.query.get("wait") === "true" ? appJson(context, app) : { id: app.id, created_at: app.createdAt }, 201)
  const requestedName = body.name ?? body.app_name
  const orgSlug = body.org_slug ?? "personal"
  if (body.idempotency_key !== undefined) {
    const earlier = [...context.store.apps.values()].find((app) => app.idempotencyKey === body.idempotency_key)
    if (earlier) {
      if (requestedName !== undefined && requestedName !== earlier.name)
        return failure(422, "Validation failed: idempotency key was used with a different name")
      return created(earlier)
    }
  }
  const name = requestedName ?? `app-${ulid().slice(-12).toLowerCase()}`
  if (!validAppName.test(name))
    return failure(422, "Validation failed: Name under 63 chars using numbers, lowercase letters and dashes")
  if (context.store.apps.has(name))
    return failure(422, "Validation failed: Name has already been taken", { status: "name_taken" })
  const network = body.network || "default"
  const app: AppRecord = {
    id: appId(),
    name,
    orgSlug,
    network,
    networkIndex: networkIndex(context, orgSlug, network),
    internalNumericId: context.store.next(),
    createdAt: Date.now(),
    secretsVersion: 0,
    ...(body.idempotency_key !== undefined ? { idempotencyKey: body.idempotency_key } : {}),
  }
  context.store.apps.set(name, app)
  context.store.changed()
  return created(app)
}

export const getApp = (context: ApiContext, request: ApiRequest): Reply => {
  const app = context.store.apps.get(request.params.app ?? "")
  return app ? ok(appJson(context, app)) : appNotFound()
}

export const listApps = (context: ApiContext, request: ApiRequest): Reply => {
  const orgSlug = request.query.get("org_slug")
  if (!orgSlug) return failure(400, "org_slug is required")
  const apps = [...context.store.apps.values()]
    .filter((app) => app.orgSlug === orgSlug)
    .map((app) => {
      const { id, name, machine_count, volume_count, network } = appJson(context, app)
      return { id, name, machine_count, volume_count, network }
    })
  return ok({ total_apps: apps.length, apps })
}

/** Deleting an app takes its machines, addresses, secrets and certificates with it, with or without `force`. */
export const deleteApp = async (context: ApiContext, request: ApiRequest): Promise<Reply> => {
  const app = context.store.apps.get(request.params.app ?? "")
  if (!app) return appNotFound()
  context.lifecycle.removeAll(app.name)
  const ips = context.store.ips.filter((ip) => ip.app === app.name)
  context.store.ips = context.store.ips.filter((ip) => ip.app !== app.name)
  context.store.secrets.delete(app.name)
  context.store.certificates.delete(app.name)
  context.store.apps.delete(app.name)
  context.store.changed()
  await releaseUnusedPublicIps(context, ips)
  return { status: 202 }
}

/**
 * Gives the host back the public addresses of removed assignments that no App holds any more: a shared IPv4 is one
 * address for many Apps (Fly's docs: "shared across many apps and organizations"), released with its last one.
 */
export const releaseUnusedPublicIps = async (context: ApiContext, removed: ReadonlyArray<IpRecord>) => {
  const unused = removed.filter(
    (ip) => ip.type !== "private_v6" && !context.store.ips.some((other) => other.ip === ip.ip),
  )
  await Promise.all([...new Set(unused.map((ip) => ip.ip))].map((ip) => context.host.releasePublicIp(ip)))
}
