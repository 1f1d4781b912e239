import { createHash } from "node:crypto"
import { Result, Schema } from "effect"
import type { ApiContext, ApiRequest } from "./apiContext.ts"
import { appNotFound } from "./appsApi.ts"
import { failure, ok, type Reply } from "./reply.ts"
import { decodeBody } from "./requestBody.ts"
import type { AppRecord, SecretRecord } from "./store.ts"

const SetSecretsRequest = Schema.Struct({
  values: Schema.Record(Schema.String, Schema.NullOr(Schema.String)),
})

const SetSecretRequest = Schema.Struct({ value: Schema.String })

const digestOf = (value: string): string => createHash("sha256").update(value).digest("hex").slice(0, 16)

export const secretJson = (secret: SecretRecord, showValue: boolean) => ({
  name: secret.name,
  digest: secret.digest,
  created_at: secret.createdAt,
  updated_at: secret.updatedAt,
  ...(showValue ? { value: secret.value } : {}),
})

const secretsOf = (context: ApiContext, app: string): Map<string, SecretRecord> => {
  const existing = context.store.secrets.get(app)
  if (existing) return existing
  const created = new Map<string, SecretRecord>()
  context.store.secrets.set(app, created)
  return created
}

/** Sets (string) or unsets (null) secrets; every write bumps the app's secrets version. */
const write = (context: ApiContext, app: AppRecord, values: Readonly<Record<string, string | null>>): number => {
  const secrets = secretsOf(context, app.name)
  const now = new Date().toISOString().replace(/\.\d+Z$/, "Z")
  for (const [name, value] of Object.entries(values)) {
    if (value === null) secrets.delete(name)
    else
      secrets.set(name, {
        name,
        value,
        digest: digestOf(value),
        createdAt: secrets.get(name)?.createdAt ?? now,
        updatedAt: now,
      })
  }
  app.secretsVersion += 1
  context.store.changed()
  return app.secretsVersion
}

const appOf = (context: ApiContext, request: ApiRequest): AppRecord | undefined =>
  context.store.apps.get(request.params.app ?? "")

export const listSecrets = (context: ApiContext, request: ApiRequest): Reply => {
  const app = appOf(context, request)
  if (!app) return appNotFound()
  const show = request.query.get("show_secrets") === "true"
  return ok({ secrets: [...secretsOf(context, app.name).values()].map((secret) => secretJson(secret, show)) })
}

export const setSecrets = (context: ApiContext, request: ApiRequest): Reply => {
  const app = appOf(context, request)
  if (!app) return appNotFound()
  const decoded = decodeBody(SetSecretsRequest, request.body)
  if (Result.isFailure(decoded)) return decoded.failure
  const version = write(context, app, decoded.success.values)
  const secrets = [...secretsOf(context, app.name).values()].map((secret) => secretJson(secret, false))
  return ok({ secrets, version, Version: version })
}

export const getSecret = (context: ApiContext, request: ApiRequest): Reply => {
  const app = appOf(context, request)
  if (!app) return appNotFound()
  const secret = secretsOf(context, app.name).get(request.params.name ?? "")
  if (!secret) return failure(404, "secret not found")
  return ok(secretJson(secret, request.query.get("show_secrets") === "true"))
}

export const setSecret = (context: ApiContext, request: ApiRequest): Reply => {
  const app = appOf(context, request)
  if (!app) return appNotFound()
  const decoded = decodeBody(SetSecretRequest, request.body)
  if (Result.isFailure(decoded)) return decoded.failure
  const name = request.params.name ?? ""
  const version = write(context, app, { [name]: decoded.success.value })
  const secret = secretsOf(context, app.name).get(name)
  return secret ? ok({ ...secretJson(secret, false), version, Version: version }, 201) : failure(500, "lost secret")
}

export const deleteSecret = (context: ApiContext, request: ApiRequest): Reply => {
  const app = appOf(context, request)
  if (!app) return appNotFound()
  const name = request.params.name ?? ""
  if (!secretsOf(context, app.name).has(name)) return failure(404, "secret not found")
  const version = write(context, app, { [name]: null })
  return ok({ version, Version: version })
}
