import { Result, Schema } from "effect"
import type { ApiContext, ApiRequest } from "./apiContext.ts"
import { appNotFound, releaseUnusedPublicIps } from "./appsApi.ts"
import { failure, noContent, ok, type Reply } from "./reply.ts"
import { decodeBody } from "./requestBody.ts"
import type { IpRecord } from "./store.ts"

const AssignIpRequest = Schema.Struct({
  type: Schema.String,
  region: Schema.optionalKey(Schema.String),
  org_slug: Schema.optionalKey(Schema.String),
  network: Schema.optionalKey(Schema.String),
  service_name: Schema.optionalKey(Schema.String),
})

const ipJson = (ip: IpRecord) => ({
  ip: ip.ip,
  region: ip.region,
  shared: ip.shared,
  service_name: ip.serviceName,
  created_at: ip.createdAt,
  egress: false,
  network: ip.network,
})

export const listIpAssignments = (context: ApiContext, request: ApiRequest): Reply => {
  const app = request.params.app ?? ""
  if (!context.store.apps.has(app)) return appNotFound()
  return ok({ ips: context.store.ips.filter((ip) => ip.app === app).map(ipJson) })
}

export const createIpAssignment = async (context: ApiContext, request: ApiRequest): Promise<Reply> => {
  const app = context.store.apps.get(request.params.app ?? "")
  if (!app) return appNotFound()
  const decoded = decodeBody(AssignIpRequest, request.body)
  if (Result.isFailure(decoded)) return decoded.failure
  const body = decoded.success
  const type = body.type
  if (type !== "v4" && type !== "v6" && type !== "shared_v4" && type !== "private_v6")
    return failure(400, `invalid_argument: unsupported ip assignment type ${type}`)
  if (type === "shared_v4") {
    // An app has at most one shared IPv4; asking again answers the one it has.
    const existing = context.store.ips.find((ip) => ip.app === app.name && ip.type === "shared_v4")
    if (existing) return ok(ipJson(existing))
  }
  const address =
    type === "private_v6"
      ? `fdaa:0:${app.networkIndex.toString(16)}:0:1::${context.store.next().toString(16)}`
      : type === "shared_v4"
        ? await sharedIpv4(context)
        : await context.host.allocatePublicIp(type)
  const record: IpRecord = {
    ip: address,
    app: app.name,
    type,
    region: body.region || "global",
    shared: type === "shared_v4",
    serviceName: body.service_name ?? "",
    createdAt: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
    network: type === "private_v6" ? { name: body.network || "default", org_slug: app.orgSlug } : null,
  }
  if (!context.store.apps.has(app.name)) {
    // The app went away while the address was being allocated.
    if (type === "shared_v4") context.store.sharedIpv4Allocation = undefined
    await releaseUnusedPublicIps(context, [record])
    return appNotFound()
  }
  context.store.ips = [...context.store.ips, record]
  if (type === "shared_v4") context.store.sharedIpv4Allocation = undefined
  context.store.changed()
  return ok(ipJson(record))
}

export const deleteIpAssignment = async (context: ApiContext, request: ApiRequest): Promise<Reply> => {
  const app = request.params.app ?? ""
  if (!context.store.apps.has(app)) return appNotFound()
  const address = request.params.ip ?? ""
  const record = context.store.ips.find((ip) => ip.app === app && sameAddress(ip.ip, address))
  if (!record) return failure(404, "ip assignment not found")
  context.store.ips = context.store.ips.filter((ip) => ip !== record)
  context.store.changed()
  await releaseUnusedPublicIps(context, [record])
  return noContent()
}

/**
 * The shared IPv4: one address for every App that asks (Fly's docs: shared IPv4 addresses "are shared across many apps
 * and organizations. Routing is based on your app's domain"). Concurrent first asks wait for one allocation.
 */
const sharedIpv4 = (context: ApiContext): Promise<string> => {
  const existing = context.store.ips.find((ip) => ip.type === "shared_v4")?.ip
  if (existing !== undefined) return Promise.resolve(existing)
  context.store.sharedIpv4Allocation ??= context.host.allocatePublicIp("shared_v4")
  return context.store.sharedIpv4Allocation
}

const sameAddress = (a: string, b: string): boolean => a.toLowerCase() === b.toLowerCase()
