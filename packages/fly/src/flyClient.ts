import { NodeHttpClient } from "@effect/platform-node"
import { Clock, Config, Context, Duration, Effect, Layer, Metric, Option, Redacted, Schema, SchemaIssue } from "effect"
import { HttpClient, HttpClientRequest } from "effect/http"
import { App, type AppSummary, CreateAppRequest, CreateAppResponse, ListAppsResponse } from "./app.ts"
import { authorizationHeader } from "./authorization.ts"
import {
  CertificateDetail,
  type CertificateSummary,
  CreateAcmeCertificateRequest,
  ListCertificatesResponse,
} from "./certificate.ts"
import type { Endpoint } from "./endpoint.ts"
import { FlyDecodeError, type FlyError, FlyTimeout } from "./errors.ts"
import {
  CreateIpAssignmentRequest,
  IpAssignment,
  type IpAssignmentType,
  ListIpAssignmentsResponse,
} from "./ipAssignment.ts"
import { CreateMachineRequest, Machine, UpdateMachineRequest, WaitMachineResponse, type WaitState } from "./machine.ts"
import { flyApiRequestDurationSeconds, flyApiRequestsTotal } from "./metrics.ts"
import { MutationGate } from "./mutationGate.ts"
import { RateBudget } from "./rateBudget.ts"
import { RegionsResponse } from "./regions.ts"
import { errorFromResponse, retryAfterSeconds } from "./responseError.ts"
import { defaultRetryOptions, type RetryMode, type RetryOptions, retrySchedule } from "./retryPolicy.ts"
import { type AppSecret, ListSecretsResponse, SetSecretsRequest, SetSecretsResponse } from "./secrets.ts"
import { transportFailure } from "./transportFailure.ts"

export const defaultBaseUrl = "https://api.machines.dev"

export interface FlyClientConfig {
  /** Without `/v1`; the client prefixes every path with it. */
  readonly baseUrl: string
  readonly token: Redacted.Redacted<string>
  /** Per attempt; a wait gets its own server-side timeout on top. Default 30 s. */
  readonly requestTimeout?: Duration.Input
  readonly retry?: Partial<RetryOptions>
}

export interface WaitMachineOptions {
  readonly state: WaitState
  /** Clamped to Fly's 1..60 s. */
  readonly timeoutSeconds: number
  /** Wait for this machine version (`instance_id`), e.g. the one an update returned. */
  readonly version?: string
}

export interface ListMachinesOptions {
  /** Exact match on `config.metadata`; several keys must all match. */
  readonly metadata?: Readonly<Record<string, string>>
}

export interface CreateIpAssignmentOptions {
  readonly type: IpAssignmentType
  readonly region?: string
}

/**
 * The Fly Machines API, as the operator uses it. Every method waits for the client-side rate
 * budget, retries what is safe to retry (see `RetryMode`), and fails only with a `FlyError`.
 *
 * Creates (`createApp`, `createMachine`, `createIpAssignment`) are NOT retried after a 408, a
 * client timeout or a lost response: they fail with `FlyTimeout`, and the caller must list what
 * exists before creating again, or it may get a second Machine or a second billed IPv4.
 */
export class FlyClient extends Context.Service<
  FlyClient,
  {
    /**
     * Ambiguous on `FlyTimeout`: look with `getApp`. `FlyNameTaken` may be someone else's app. App creation is
     * budgeted per org: there is no app id yet.
     */
    createApp(request: CreateAppRequest): Effect.Effect<CreateAppResponse, FlyError>
    getApp(app: string): Effect.Effect<App, FlyError>
    /** Every App of the organization (one page: Fly's list is not paginated). */
    listApps(org: string): Effect.Effect<ReadonlyArray<AppSummary>, FlyError>
    /** Always `force=true`: stops and deletes its machines too. `FlyNotFound` means already gone. */
    deleteApp(app: string): Effect.Effect<void, FlyError>
    listMachines(app: string, options?: ListMachinesOptions): Effect.Effect<ReadonlyArray<Machine>, FlyError>
    getMachine(app: string, machineId: string): Effect.Effect<Machine, FlyError>
    /** Ambiguous on `FlyTimeout`: look with `listMachines` (by name or metadata). */
    createMachine(app: string, request: CreateMachineRequest): Effect.Effect<Machine, FlyError>
    /**
     * Replaces the whole config (Fly restarts a started machine). With `current_version`, a retry
     * of an update that was applied but whose answer was lost fails with `FlyConflict`: re-read.
     */
    updateMachine(app: string, machineId: string, request: UpdateMachineRequest): Effect.Effect<Machine, FlyError>
    /** `FlyTimeout` with `reason: "server"` (a 408) means the state was not reached in time. */
    waitMachine(
      app: string,
      machineId: string,
      options: WaitMachineOptions,
    ): Effect.Effect<WaitMachineResponse, FlyError>
    /** Always `force=true`. `FlyNotFound` means already gone. */
    deleteMachine(app: string, machineId: string): Effect.Effect<void, FlyError>
    /** Starts a stopped or suspended Machine (a started one answers as already started). */
    startMachine(app: string, machineId: string): Effect.Effect<void, FlyError>
    listIpAssignments(app: string): Effect.Effect<ReadonlyArray<IpAssignment>, FlyError>
    /** Ambiguous on `FlyTimeout`: look with `listIpAssignments` (a `v4` is billed). */
    createIpAssignment(app: string, options: CreateIpAssignmentOptions): Effect.Effect<IpAssignment, FlyError>
    /** `FlyNotFound` means already gone. */
    deleteIpAssignment(app: string, ip: string): Effect.Effect<void, FlyError>
    /** A `null` value unsets the secret. The version goes into a machine's `min_secrets_version`. */
    setSecrets(
      app: string,
      values: Readonly<Record<string, string | null>>,
    ): Effect.Effect<{ readonly version: number }, FlyError>
    /** Names and digests of the App's secrets, never their values. */
    listSecrets(app: string): Effect.Effect<ReadonlyArray<AppSecret>, FlyError>
    listRegions(): Effect.Effect<RegionsResponse, FlyError>
    /** Every certificate (hostname) of the App, all pages. */
    listCertificates(app: string): Effect.Effect<ReadonlyArray<CertificateSummary>, FlyError>
    /**
     * Adds a hostname and starts Let's Encrypt issuance. Ambiguous on `FlyTimeout`: look with `listCertificates`. A
     * hostname the App already has is refused (422, `FlyInvalid`), so a repeated create never makes a second one.
     */
    createAcmeCertificate(app: string, hostname: string): Effect.Effect<CertificateDetail, FlyError>
    getCertificate(app: string, hostname: string): Effect.Effect<CertificateDetail, FlyError>
    /** Asks Fly to validate the hostname's DNS again (and issue when it passes); answers the detail. */
    checkCertificate(app: string, hostname: string): Effect.Effect<CertificateDetail, FlyError>
    /** Removes the hostname and its certificates. `FlyNotFound` means already gone. */
    deleteCertificate(app: string, hostname: string): Effect.Effect<void, FlyError>
  }
>()("@fly-tunnel-operator/fly/FlyClient") {
  static readonly make = (config: FlyClientConfig) =>
    Effect.gen(function* () {
      const http = yield* HttpClient.HttpClient
      const budget = yield* RateBudget
      const retry = { ...defaultRetryOptions, ...config.retry }
      const requestTimeout = Duration.fromInputUnsafe(config.requestTimeout ?? "30 seconds")
      const authorization = authorizationHeader(config.token)
      const baseUrl = `${config.baseUrl.replace(/\/+$/, "")}/v1`

      const call = <A>(spec: CallSpec<A>): Effect.Effect<A, FlyError> => {
        const request = HttpClientRequest.make(spec.method)(`${baseUrl}${spec.path}`, {
          urlParams: spec.urlParams ?? [],
          headers: { authorization: Redacted.value(authorization), accept: "application/json" },
        }).pipe((req) => (spec.body === undefined ? req : HttpClientRequest.bodyJsonUnsafe(req, spec.body)))
        const timeout = Duration.sum(requestTimeout, spec.extraTimeout ?? Duration.zero)

        const attempt = Effect.gen(function* () {
          yield* budget.take(spec.endpoint, spec.budgetKey)
          if (spec.method !== "GET") {
            const gate = yield* MutationGate
            yield* gate
          }
          const startedAt = yield* Clock.currentTimeMillis
          const answer = yield* http.execute(request).pipe(
            Effect.flatMap((response) =>
              Effect.map(response.text, (text) => ({ status: response.status, headers: response.headers, text })),
            ),
            Effect.mapError((error) => transportFailure(spec.endpoint, spec.mode, error.reason)),
            Effect.timeoutOrElse({
              duration: timeout,
              orElse: () =>
                Effect.fail(
                  new FlyTimeout({
                    endpoint: spec.endpoint,
                    reason: "client",
                    message: `${spec.endpoint}: no answer within ${Duration.format(timeout)}`,
                  }),
                ),
            }),
            Effect.onExit((exit) =>
              recordAttempt(spec.endpoint, exit._tag === "Success" ? String(exit.value.status) : "error", startedAt),
            ),
          )
          if (answer.status >= 200 && answer.status < 300) {
            return yield* spec.decode(answer.text, answer.status)
          }
          const now = yield* Clock.currentTimeMillis
          return yield* Effect.fail(
            errorFromResponse(
              spec.endpoint,
              answer.status,
              answer.text,
              retryAfterSeconds(answer.headers["retry-after"], now),
            ),
          )
        })

        return attempt.pipe(Effect.retry(retrySchedule(spec.mode, retry)))
      }

      const decodeBody =
        <S extends Schema.Decoder<unknown>>(endpoint: Endpoint, schema: S) =>
        (text: string, status: number) =>
          decodeJson(endpoint, schema, text, status)
      const ignoreBody = () => Effect.void

      const app = (name: string) => `/apps/${encodeURIComponent(name)}`
      const machine = (name: string, id: string) => `${app(name)}/machines/${encodeURIComponent(id)}`
      const encode = <S extends Schema.Codec<unknown, unknown>>(schema: S, value: S["Type"]) =>
        Schema.encodeSync(schema)(value)

      const certificate = (name: string, hostname: string) =>
        `${app(name)}/certificates/${encodeURIComponent(hostname)}`

      return FlyClient.of({
        createApp: Effect.fn("FlyClient.createApp")(function* (request: CreateAppRequest) {
          return yield* call({
            endpoint: "createApp",
            method: "POST",
            path: "/apps",
            body: encode(CreateAppRequest, request),
            budgetKey: request.org_slug,
            mode: "create",
            decode: decodeBody("createApp", CreateAppResponse),
          })
        }),
        getApp: Effect.fn("FlyClient.getApp")(function* (name: string) {
          return yield* call({
            endpoint: "getApp",
            method: "GET",
            path: app(name),
            budgetKey: name,
            mode: "idempotent",
            decode: decodeBody("getApp", App),
          })
        }),
        listApps: Effect.fn("FlyClient.listApps")(function* (org: string) {
          const body = yield* call({
            endpoint: "listApps",
            method: "GET",
            path: "/apps",
            urlParams: [["org_slug", org]],
            budgetKey: `org:${org}`,
            mode: "idempotent",
            decode: decodeBody("listApps", ListAppsResponse),
          })
          return body.apps
        }),
        deleteApp: Effect.fn("FlyClient.deleteApp")(function* (name: string) {
          return yield* call({
            endpoint: "deleteApp",
            method: "DELETE",
            path: app(name),
            urlParams: [["force", "true"]],
            budgetKey: name,
            mode: "idempotent",
            decode: ignoreBody,
          })
        }),
        listMachines: Effect.fn("FlyClient.listMachines")(function* (name: string, options?: ListMachinesOptions) {
          return yield* call({
            endpoint: "listMachines",
            method: "GET",
            path: `${app(name)}/machines`,
            urlParams: Object.entries(options?.metadata ?? {}).map(([key, value]) => [`metadata.${key}`, value]),
            budgetKey: name,
            mode: "idempotent",
            decode: decodeBody("listMachines", Schema.Array(Machine)),
          })
        }),
        getMachine: Effect.fn("FlyClient.getMachine")(function* (name: string, machineId: string) {
          return yield* call({
            endpoint: "getMachine",
            method: "GET",
            path: machine(name, machineId),
            budgetKey: machineId,
            mode: "idempotent",
            decode: decodeBody("getMachine", Machine),
          })
        }),
        createMachine: Effect.fn("FlyClient.createMachine")(function* (name: string, request: CreateMachineRequest) {
          return yield* call({
            endpoint: "createMachine",
            method: "POST",
            path: `${app(name)}/machines`,
            body: encode(CreateMachineRequest, request),
            budgetKey: name,
            mode: "create",
            decode: decodeBody("createMachine", Machine),
          })
        }),
        updateMachine: Effect.fn("FlyClient.updateMachine")(function* (
          name: string,
          machineId: string,
          request: UpdateMachineRequest,
        ) {
          return yield* call({
            endpoint: "updateMachine",
            method: "POST",
            path: machine(name, machineId),
            body: encode(UpdateMachineRequest, request),
            budgetKey: machineId,
            mode: "idempotent",
            decode: decodeBody("updateMachine", Machine),
          })
        }),
        waitMachine: Effect.fn("FlyClient.waitMachine")(function* (
          name: string,
          machineId: string,
          options: WaitMachineOptions,
        ) {
          const timeoutSeconds = Math.min(60, Math.max(1, Math.round(options.timeoutSeconds)))
          return yield* call({
            endpoint: "waitMachine",
            method: "GET",
            path: `${machine(name, machineId)}/wait`,
            urlParams: [
              ["state", options.state],
              ["timeout", String(timeoutSeconds)],
              ...(options.version === undefined ? [] : [["version", options.version] as const]),
            ],
            budgetKey: machineId,
            mode: "wait",
            // Fly holds the request up to the wait's timeout; the client must outlast it.
            extraTimeout: Duration.seconds(timeoutSeconds),
            decode: decodeBody("waitMachine", WaitMachineResponse),
          })
        }),
        deleteMachine: Effect.fn("FlyClient.deleteMachine")(function* (name: string, machineId: string) {
          return yield* call({
            endpoint: "deleteMachine",
            method: "DELETE",
            path: machine(name, machineId),
            urlParams: [["force", "true"]],
            budgetKey: machineId,
            mode: "idempotent",
            decode: ignoreBody,
          })
        }),
        startMachine: Effect.fn("FlyClient.startMachine")(function* (name: string, machineId: string) {
          return yield* call({
            endpoint: "startMachine",
            method: "POST",
            path: `${machine(name, machineId)}/start`,
            budgetKey: machineId,
            mode: "idempotent",
            decode: ignoreBody,
          })
        }),
        listIpAssignments: Effect.fn("FlyClient.listIpAssignments")(function* (name: string) {
          const body = yield* call({
            endpoint: "listIpAssignments",
            method: "GET",
            path: `${app(name)}/ip_assignments`,
            budgetKey: name,
            mode: "idempotent",
            decode: decodeBody("listIpAssignments", ListIpAssignmentsResponse),
          })
          return body.ips
        }),
        createIpAssignment: Effect.fn("FlyClient.createIpAssignment")(function* (
          name: string,
          options: CreateIpAssignmentOptions,
        ) {
          return yield* call({
            endpoint: "createIpAssignment",
            method: "POST",
            path: `${app(name)}/ip_assignments`,
            body: encode(CreateIpAssignmentRequest, options),
            budgetKey: name,
            mode: "create",
            decode: decodeBody("createIpAssignment", IpAssignment),
          })
        }),
        deleteIpAssignment: Effect.fn("FlyClient.deleteIpAssignment")(function* (name: string, ip: string) {
          return yield* call({
            endpoint: "deleteIpAssignment",
            method: "DELETE",
            path: `${app(name)}/ip_assignments/${encodeURIComponent(ip)}`,
            budgetKey: name,
            mode: "idempotent",
            decode: ignoreBody,
          })
        }),
        setSecrets: Effect.fn("FlyClient.setSecrets")(function* (
          name: string,
          values: Readonly<Record<string, string | null>>,
        ) {
          const body = yield* call({
            endpoint: "setSecrets",
            method: "POST",
            path: `${app(name)}/secrets`,
            body: encode(SetSecretsRequest, { values }),
            budgetKey: name,
            mode: "idempotent",
            decode: decodeBody("setSecrets", SetSecretsResponse),
          })
          return { version: body.version }
        }),
        listSecrets: Effect.fn("FlyClient.listSecrets")(function* (name: string) {
          const body = yield* call({
            endpoint: "listSecrets",
            method: "GET",
            path: `${app(name)}/secrets`,
            budgetKey: name,
            mode: "idempotent",
            decode: decodeBody("listSecrets", ListSecretsResponse),
          })
          return body.secrets
        }),
        listRegions: Effect.fn("FlyClient.listRegions")(function* () {
          return yield* call({
            endpoint: "listRegions",
            method: "GET",
            path: "/platform/regions",
            budgetKey: "platform",
            mode: "idempotent",
            decode: decodeBody("listRegions", RegionsResponse),
          })
        }),
        listCertificates: Effect.fn("FlyClient.listCertificates")(function* (name: string) {
          const all: Array<CertificateSummary> = []
          let cursor: string | undefined
          do {
            const page = yield* call({
              endpoint: "listCertificates",
              method: "GET",
              path: `${app(name)}/certificates`,
              urlParams: [["limit", "500"], ...(cursor === undefined ? [] : [["cursor", cursor] as const])],
              budgetKey: name,
              mode: "idempotent",
              decode: decodeBody("listCertificates", ListCertificatesResponse),
            })
            all.push(...page.certificates)
            cursor = page.next_cursor ?? undefined
            if (page.certificates.length === 0) cursor = undefined
          } while (cursor !== undefined)
          return all
        }),
        createAcmeCertificate: Effect.fn("FlyClient.createAcmeCertificate")(function* (name: string, hostname: string) {
          return yield* call({
            endpoint: "createAcmeCertificate",
            method: "POST",
            path: `${app(name)}/certificates/acme`,
            body: encode(CreateAcmeCertificateRequest, { hostname }),
            budgetKey: name,
            mode: "create",
            decode: decodeBody("createAcmeCertificate", CertificateDetail),
          })
        }),
        getCertificate: Effect.fn("FlyClient.getCertificate")(function* (name: string, hostname: string) {
          return yield* call({
            endpoint: "getCertificate",
            method: "GET",
            path: certificate(name, hostname),
            budgetKey: name,
            mode: "idempotent",
            decode: decodeBody("getCertificate", CertificateDetail),
          })
        }),
        checkCertificate: Effect.fn("FlyClient.checkCertificate")(function* (name: string, hostname: string) {
          return yield* call({
            endpoint: "checkCertificate",
            method: "POST",
            path: `${certificate(name, hostname)}/check`,
            budgetKey: name,
            mode: "idempotent",
            decode: decodeBody("checkCertificate", CertificateDetail),
          })
        }),
        deleteCertificate: Effect.fn("FlyClient.deleteCertificate")(function* (name: string, hostname: string) {
          return yield* call({
            endpoint: "deleteCertificate",
            method: "DELETE",
            path: certificate(name, hostname),
            budgetKey: name,
            mode: "idempotent",
            decode: ignoreBody,
          })
        }),
      })
    })

  /** Needs an `HttpClient` and a `RateBudget`: for tests that fake the transport. */
  static readonly layerNoDeps = (config: FlyClientConfig) => Layer.effect(FlyClient, FlyClient.make(config))

  /**
   * Live: Node's own http/https (not undici, which costs the process ~27 MiB of memory) with keep-alive connections,
   * at most 16 to Fly at once, an idle one closed after 30 s; and a rate budget at Fly's limits.
   */
  static readonly layer = (config: FlyClientConfig) =>
    FlyClient.layerNoDeps(config).pipe(
      Layer.provide(NodeHttpClient.layerNodeHttpOptions({ keepAlive: true, maxSockets: 16, timeout: 30_000 })),
      Layer.provide(RateBudget.layer),
    )

  /** Live, configured from `FLY_API_BASE_URL` (default `https://api.machines.dev`) and `FLY_API_TOKEN`. */
  static readonly layerConfig = Layer.unwrap(
    Effect.gen(function* () {
      const baseUrl = yield* Config.String("FLY_API_BASE_URL").pipe(Config.withDefault(defaultBaseUrl))
      const token = yield* Config.Redacted("FLY_API_TOKEN")
      return FlyClient.layer({ baseUrl, token })
    }),
  )
}

interface CallSpec<A> {
  readonly endpoint: Endpoint
  readonly method: "GET" | "POST" | "DELETE"
  readonly path: string
  readonly urlParams?: ReadonlyArray<readonly [string, string]>
  /** Already encoded JSON. */
  readonly body?: unknown
  /** The app name, machine id or org the rate budget counts against. */
  readonly budgetKey: string
  readonly mode: RetryMode
  readonly extraTimeout?: Duration.Duration
  readonly decode: (text: string, status: number) => Effect.Effect<A, FlyDecodeError>
}

const recordAttempt = (endpoint: Endpoint, status: string, startedAt: number) =>
  Effect.flatMap(Clock.currentTimeMillis, (now) =>
    Effect.all([
      Metric.update(Metric.withAttributes(flyApiRequestsTotal, { endpoint, status }), 1),
      Metric.update(Metric.withAttributes(flyApiRequestDurationSeconds, { endpoint }), (now - startedAt) / 1000),
    ]),
  )

const formatIssues = SchemaIssue.makeFormatterStandardSchemaV1()

/** Decodes a response body; a mismatch names the first offending field path (`config.image`). */
export const decodeJson = <S extends Schema.Decoder<unknown>>(
  endpoint: Endpoint,
  schema: S,
  text: string,
  status: number,
): Effect.Effect<S["Type"], FlyDecodeError> =>
  Schema.decodeUnknownEffect(Schema.fromJsonString(schema))(text).pipe(
    Effect.mapError((error) => {
      const first = Option.fromNullishOr(formatIssues(error.issue).issues[0])
      const path = Option.match(first, {
        onNone: () => "",
        onSome: (issue) =>
          (issue.path ?? []).map((key) => (typeof key === "object" ? String(key.key) : String(key))).join("."),
      })
      const detail = Option.match(first, { onNone: () => "invalid response", onSome: (issue) => issue.message })
      return new FlyDecodeError({
        endpoint,
        status,
        path,
        message: `${endpoint}: unexpected response at ${path === "" ? "(root)" : path}: ${detail}`,
      })
    }),
  )
