// A kubeconfig file as kubectl reads it, for the fields the operator uses: the current context's cluster (server, CA,
// TLS checks) and user (client certificate or bearer token). Several files (a KUBECONFIG list) merge as kubectl merges
// them: the first file to set current-context or to name a cluster, user or context wins. Relative paths are
// relative to the file that holds them. A user who logs in through a program (exec) or an auth provider is refused
// with the fix, rather than half supported.
import { readFileSync } from "node:fs"
import { dirname, resolve } from "node:path"
import { Effect, Result, Schema, SchemaIssue } from "effect"
import { parse } from "yaml"
import { noToken, staticToken, tokenFromFile } from "./bearerToken.ts"
import { KubeconfigError } from "./kubeconfigError.ts"
import type { KubeEndpoint } from "./kubeEndpoint.ts"

/** YAML leaves an empty key as null: read it as absent. */
const optional = <S extends Schema.Top>(schema: S) => Schema.optionalKey(Schema.NullOr(schema))

const Cluster = Schema.Struct({
  server: optional(Schema.String),
  "certificate-authority": optional(Schema.String),
  "certificate-authority-data": optional(Schema.String),
  "insecure-skip-tls-verify": optional(Schema.Boolean),
  "tls-server-name": optional(Schema.String),
  "proxy-url": optional(Schema.String),
})

const User = Schema.Struct({
  "client-certificate": optional(Schema.String),
  "client-certificate-data": optional(Schema.String),
  "client-key": optional(Schema.String),
  "client-key-data": optional(Schema.String),
  token: optional(Schema.String),
  tokenFile: optional(Schema.String),
  exec: optional(Schema.Unknown),
  "auth-provider": optional(Schema.Unknown),
  username: optional(Schema.String),
  password: optional(Schema.String),
  as: optional(Schema.String),
})

const Context = Schema.Struct({
  cluster: optional(Schema.String),
  user: optional(Schema.String),
})

const KubeconfigSchema = Schema.Struct({
  "current-context": optional(Schema.String),
  clusters: optional(Schema.Array(Schema.Struct({ name: Schema.String, cluster: optional(Cluster) }))),
  users: optional(Schema.Array(Schema.Struct({ name: Schema.String, user: optional(User) }))),
  contexts: optional(Schema.Array(Schema.Struct({ name: Schema.String, context: optional(Context) }))),
})
const decodeKubeconfig = Schema.decodeUnknownResult(KubeconfigSchema)
const formatIssues = SchemaIssue.makeFormatterStandardSchemaV1()

type ClusterEntry = typeof Cluster.Type
type UserEntry = typeof User.Type
type ContextEntry = typeof Context.Type

/** One or more files merged: entries by name, the first of each name kept; files already made absolute. */
export interface Kubeconfig {
  readonly source: string
  readonly currentContext: string | undefined
  readonly clusters: ReadonlyMap<string, ClusterEntry>
  readonly users: ReadonlyMap<string, UserEntry>
  readonly contexts: ReadonlyMap<string, ContextEntry>
}

const readText = (path: string, source: string, what: string) =>
  Effect.try({
    try: () => readFileSync(path),
    catch: (cause) =>
      new KubeconfigError({
        source,
        problem: `cannot read ${what} ${path}: ${cause instanceof Error ? cause.message : String(cause)}`,
      }),
  })

/** Parses and decodes one kubeconfig file; its relative paths become absolute. */
export const readKubeconfigFile = (path: string): Effect.Effect<Kubeconfig, KubeconfigError> =>
  Effect.gen(function* () {
    const bytes = yield* readText(path, path, "the kubeconfig")
    const yaml = yield* Effect.try({
      try: (): unknown => parse(bytes.toString("utf8")) ?? {},
      catch: (cause) =>
        new KubeconfigError({ source: path, problem: `not YAML: ${cause instanceof Error ? cause.message : cause}` }),
    })
    const decoded = decodeKubeconfig(yaml, { errors: "all" })
    if (Result.isFailure(decoded)) {
      const problems = formatIssues(decoded.failure.issue).issues.map(
        (issue) => `${issue.path?.map(String).join(".") || "(top level)"}: ${issue.message}`,
      )
      return yield* new KubeconfigError({ source: path, problem: problems.join("; ") })
    }
    const base = dirname(path)
    const absolute = (file: string | null | undefined) => (file ? resolve(base, file) : null)
    const config = decoded.success
    return {
      source: path,
      currentContext: config["current-context"] || undefined,
      clusters: new Map(
        (config.clusters ?? []).map(({ name, cluster }) => [
          name,
          { ...cluster, "certificate-authority": absolute(cluster?.["certificate-authority"]) },
        ]),
      ),
      users: new Map(
        (config.users ?? []).map(({ name, user }) => [
          name,
          {
            ...user,
            "client-certificate": absolute(user?.["client-certificate"]),
            "client-key": absolute(user?.["client-key"]),
            tokenFile: absolute(user?.tokenFile),
          },
        ]),
      ),
      contexts: new Map((config.contexts ?? []).map(({ name, context }) => [name, context ?? {}])),
    }
  })

const mergeMaps = <A>(maps: ReadonlyArray<ReadonlyMap<string, A>>): ReadonlyMap<string, A> => {
  const merged = new Map<string, A>()
  for (const map of maps) for (const [name, value] of map) if (!merged.has(name)) merged.set(name, value)
  return merged
}

/** kubectl's merge of a KUBECONFIG list: the first file to set a value wins. */
export const mergeKubeconfigs = (configs: ReadonlyArray<Kubeconfig>): Kubeconfig => ({
  source: configs.map((config) => config.source).join(":"),
  currentContext: configs.find((config) => config.currentContext !== undefined)?.currentContext,
  clusters: mergeMaps(configs.map((config) => config.clusters)),
  users: mergeMaps(configs.map((config) => config.users)),
  contexts: mergeMaps(configs.map((config) => config.contexts)),
})

/** PEM bytes from `<field>-data` (base64) or from the file `<field>`. */
const pem = (
  source: string,
  data: string | null | undefined,
  file: string | null | undefined,
  what: string,
): Effect.Effect<Buffer | undefined, KubeconfigError> =>
  data ? Effect.succeed(Buffer.from(data, "base64")) : file ? readText(file, source, what) : Effect.succeed(undefined)

const useInstead =
  "give the operator's user a bearer token (token or tokenFile) or a client certificate (client-certificate-data and client-key-data) instead"

/** The current context's endpoint: its cluster's address and TLS settings, its user's credentials. */
export const endpointOf = (config: Kubeconfig): Effect.Effect<KubeEndpoint, KubeconfigError> =>
  Effect.gen(function* () {
    const fail = (problem: string) => Effect.fail(new KubeconfigError({ source: config.source, problem }))
    const contextName = config.currentContext
    if (contextName === undefined)
      return yield* fail("current-context is not set: choose one with `kubectl config use-context NAME`")
    const context = config.contexts.get(contextName)
    if (context === undefined) return yield* fail(`current-context ${contextName} names no entry in contexts`)
    const clusterName = context.cluster ?? ""
    const cluster = config.clusters.get(clusterName)
    if (cluster === undefined)
      return yield* fail(`contexts[${contextName}].cluster: ${JSON.stringify(clusterName)} names no entry in clusters`)
    const at = `clusters[${clusterName}].cluster`
    if (!cluster.server) return yield* fail(`${at}.server is not set: the API server's https:// address`)
    if (cluster["proxy-url"])
      return yield* fail(
        `${at}.proxy-url is not supported: give the API server's address the operator can reach directly`,
      )
    const userName = context.user ?? ""
    const user: UserEntry = userName === "" ? {} : (config.users.get(userName) ?? {})
    if (userName !== "" && !config.users.has(userName))
      return yield* fail(`contexts[${contextName}].user: ${JSON.stringify(userName)} names no entry in users`)
    const userAt = `users[${userName}].user`
    for (const field of ["exec", "auth-provider"] as const) {
      if (user[field] !== undefined && user[field] !== null)
        return yield* fail(`${userAt}.${field} is not supported: ${useInstead}`)
    }
    if (user.username || user.password)
      return yield* fail(`${userAt}.username/password (basic authentication) is not supported: ${useInstead}`)
    if (user.as) return yield* fail(`${userAt}.as (impersonation) is not supported: ${useInstead}`)
    const ca = yield* pem(
      config.source,
      cluster["certificate-authority-data"],
      cluster["certificate-authority"],
      "the cluster's certificate authority",
    )
    const cert = yield* pem(
      config.source,
      user["client-certificate-data"],
      user["client-certificate"],
      "the client certificate",
    )
    const key = yield* pem(config.source, user["client-key-data"], user["client-key"], "the client key")
    if ((cert === undefined) !== (key === undefined))
      return yield* fail(
        `${userAt}: a client certificate needs its key (client-certificate(-data) and client-key(-data) together)`,
      )
    const token = user.token ? staticToken(user.token) : user.tokenFile ? tokenFromFile(user.tokenFile) : noToken
    if (user.tokenFile && !user.token) {
      // Read once now, so a wrong path is a setting to fix at start rather than a failing request later.
      yield* token.pipe(
        Effect.mapError(
          (error) => new KubeconfigError({ source: config.source, problem: `${userAt}.tokenFile: ${error.message}` }),
        ),
      )
    }
    return {
      server: cluster.server.replace(/\/+$/, ""),
      tls: {
        ca,
        cert,
        key,
        servername: cluster["tls-server-name"] || undefined,
        rejectUnauthorized: cluster["insecure-skip-tls-verify"] !== true,
      },
      token,
    } satisfies KubeEndpoint
  })
