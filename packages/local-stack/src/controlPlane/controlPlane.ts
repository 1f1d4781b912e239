import { mkdir, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Context, Effect, Exit, Layer, Schedule, Schema, Scope } from "effect"
import { startScoped } from "../startScoped.ts"
import type { Tools } from "../tools/toolNames.ts"
import { type ApiClientTls, apiRequest } from "./apiRequest.ts"
import { ControlPlaneError } from "./errors.ts"
import { freeLoopbackPorts } from "./freePort.ts"
import { renderKubeconfig } from "./kubeconfig.ts"
import { type ManagedProcess, managedProcess } from "./managedProcess.ts"
import { makePki } from "./pki.ts"
import { firstServiceIp } from "./serviceCidr.ts"
import { makeWorkDir, removeAbandonedWorkDirs } from "./workDir.ts"

export interface ControlPlaneOptions {
  readonly tools: Pick<Tools, "etcd" | "kube-apiserver" | "kube-controller-manager" | "kube-scheduler">
  /** IPv4 range the apiserver allocates ClusterIPs from. Nothing routes to it; it only has to be valid. */
  readonly serviceCidr?: string
  /** Progress messages of the control plane itself (e.g. "control plane ready in 4.2s"). */
  readonly log?: (line: string) => void
  /** Every line the components print, prefixed with the component name; they always go to `dir/logs/`. */
  readonly componentLog?: (line: string) => void
  /** Where the control plane's temporary directory is made; the OS temp dir by default. */
  readonly parentDir?: string
  /** How long to wait for the whole control plane to be ready. */
  readonly startTimeoutMs?: number
}

/** Where a running local control plane is and how to reach it as cluster admin. */
export interface ControlPlaneEndpoint {
  /** Admin kubeconfig (O=system:masters client certificate, CA inline). */
  readonly kubeconfigPath: string
  /** `https://127.0.0.1:<port>` */
  readonly server: string
  readonly caPem: string
  readonly serviceCidr: string
  /** Temporary directory holding data, certificates, kubeconfigs and component logs (`logs/`). */
  readonly dir: string
}

const DEFAULT_SERVICE_CIDR = "10.96.0.0/16"

// No cloud: Service load balancers belong to the operator under test alone.
const DISABLED_CONTROLLERS = ["service-lb-controller", "cloud-node-lifecycle-controller"]
// No kubelet posts heartbeats, so a Node's Ready condition is trusted as written: node-lifecycle still lifts the
// not-ready taint the apiserver puts on every new Node, but never marks a quiet Node unreachable.
const NODE_HEARTBEAT_GRACE = "8760h"

const readinessPoll = Schedule.spaced("100 millis")

/** Fails as soon as one of `processes` exits. */
const failFastOn = (processes: ReadonlyArray<ManagedProcess>) =>
  Effect.raceAllFirst(processes.map((process) => process.exited))

/** Polls `check` until it succeeds; fails early if any of `processes` exits, and at `deadline` (epoch ms). */
const waitUntil = <A>(
  what: string,
  check: Effect.Effect<A, ControlPlaneError>,
  processes: ReadonlyArray<ManagedProcess>,
  deadline: number,
) =>
  Effect.raceFirst(
    check.pipe(
      // A component that accepts a connection but never answers must not stall the poll.
      Effect.timeoutOrElse({
        duration: "5 seconds",
        orElse: () => Effect.fail(new ControlPlaneError({ message: "no answer within 5s" })),
      }),
      Effect.retry(readinessPoll.pipe(Schedule.upTo({ duration: Math.max(0, deadline - Date.now()) }))),
      Effect.mapError(
        (error) =>
          new ControlPlaneError({
            message: `timed out waiting for ${what} (${error.message}); last output:\n${processes
              .map((process) => `--- ${process.name}\n${process.recentOutput()}`)
              .join("\n")}`,
          }),
      ),
    ),
    failFastOn(processes),
  )

const expectStatus = (tls: ApiClientTls, path: string) =>
  apiRequest(tls, "GET", path).pipe(
    Effect.filterOrFail(
      (response) => response.status === 200,
      (response) =>
        new ControlPlaneError({ message: `GET ${path}: ${response.status} ${response.body.slice(0, 200)}` }),
    ),
  )

const EtcdHealthy = Schema.Struct({ health: Schema.Literal("true") })

const etcdHealthy = (url: string) =>
  Effect.tryPromise({
    try: async () => Schema.decodeUnknownSync(EtcdHealthy)(await (await fetch(`${url}/health`)).json()),
    catch: (cause) => new ControlPlaneError({ message: `etcd /health: ${String(cause)}` }),
  })

const writeSecret = (path: string, content: string) => writeFile(path, content, { mode: 0o600 })

/** One attempt at starting every component, in the current scope. */
const startOnce = Effect.fnUntraced(function* (options: ControlPlaneOptions, deadline: number) {
  const serviceCidr = options.serviceCidr ?? DEFAULT_SERVICE_CIDR
  const serviceIp = yield* Effect.try({
    try: () => firstServiceIp(serviceCidr),
    catch: (cause) => new ControlPlaneError({ message: String(cause) }),
  })
  const io = <A>(what: string, run: () => Promise<A>) =>
    Effect.tryPromise({ try: run, catch: (cause) => new ControlPlaneError({ message: `${what}: ${String(cause)}` }) })

  const dir = yield* Effect.acquireRelease(
    io("create work dir", async () => {
      const parentDir = options.parentDir ?? tmpdir()
      await removeAbandonedWorkDirs(parentDir)
      return makeWorkDir(parentDir)
    }),
    (dir) => Effect.promise(() => rm(dir, { recursive: true, force: true })),
  )
  const path = (...parts: Array<string>) => join(dir, ...parts)
  yield* io("create dirs", async () => {
    for (const sub of ["pki", "logs", "etcd", "kubeconfigs"]) await mkdir(path(sub), { mode: 0o700 })
  })

  const [etcdPort, etcdPeerPort, apiserverPort] = yield* freeLoopbackPorts(3)
  const etcdUrl = `http://127.0.0.1:${etcdPort}`
  const etcdPeerUrl = `http://127.0.0.1:${etcdPeerPort}`
  const server = `https://127.0.0.1:${apiserverPort}`

  const pki = yield* io("make certificates", () => makePki({ apiserverIps: [serviceIp] }))
  const kubeconfigFor = (user: string, identity: { certPem: string; keyPem: string }) =>
    renderKubeconfig({
      server,
      caPem: pki.ca.certPem,
      user,
      credentials: { clientCertificatePem: identity.certPem, clientKeyPem: identity.keyPem },
    })
  const kubeconfigPath = path("kubeconfigs", "admin.kubeconfig")
  yield* io("write certificates", async () => {
    await writeFile(path("pki", "ca.crt"), pki.ca.certPem)
    await writeSecret(path("pki", "ca.key"), pki.ca.keyPem)
    await writeFile(path("pki", "apiserver.crt"), pki.apiserver.certPem)
    await writeSecret(path("pki", "apiserver.key"), pki.apiserver.keyPem)
    await writeFile(path("pki", "sa.pub"), pki.serviceAccount.publicKeyPem)
    await writeSecret(path("pki", "sa.key"), pki.serviceAccount.privateKeyPem)
    await writeSecret(kubeconfigPath, kubeconfigFor("admin", pki.admin))
    await writeSecret(
      path("kubeconfigs", "controller-manager.kubeconfig"),
      kubeconfigFor("system:kube-controller-manager", pki.controllerManager),
    )
    await writeSecret(
      path("kubeconfigs", "scheduler.kubeconfig"),
      kubeconfigFor("system:kube-scheduler", pki.scheduler),
    )
  })

  const run = (name: string, command: string, args: Record<string, string>) =>
    managedProcess({
      name,
      command,
      args: Object.entries(args).map(([flag, value]) => `--${flag}=${value}`),
      logFile: path("logs", `${name}.log`),
      log: options.componentLog,
    })

  const etcd = yield* run("etcd", options.tools.etcd, {
    name: "default",
    "data-dir": path("etcd"),
    "listen-client-urls": etcdUrl,
    "advertise-client-urls": etcdUrl,
    "listen-peer-urls": etcdPeerUrl,
    "initial-advertise-peer-urls": etcdPeerUrl,
    "initial-cluster": `default=${etcdPeerUrl}`,
    "unsafe-no-fsync": "true",
    "log-level": "warn",
  })
  yield* waitUntil("etcd /health", etcdHealthy(etcdUrl), [etcd], deadline)
  options.log?.(`etcd ready at ${etcdUrl}`)

  const apiserver = yield* run("kube-apiserver", options.tools["kube-apiserver"], {
    "etcd-servers": etcdUrl,
    "bind-address": "127.0.0.1",
    "advertise-address": "127.0.0.1",
    "secure-port": String(apiserverPort),
    "cert-dir": path("pki"),
    "tls-cert-file": path("pki", "apiserver.crt"),
    "tls-private-key-file": path("pki", "apiserver.key"),
    "client-ca-file": path("pki", "ca.crt"),
    "service-account-issuer": "https://kubernetes.default.svc.cluster.local",
    "service-account-key-file": path("pki", "sa.pub"),
    "service-account-signing-key-file": path("pki", "sa.key"),
    "service-cluster-ip-range": serviceCidr,
    // The apiserver refuses its own loopback address as an endpoint of the `kubernetes` Service.
    "endpoint-reconciler-type": "none",
    "authorization-mode": "Node,RBAC",
    "allow-privileged": "true",
    profiling: "false",
  })
  const adminTls: ApiClientTls = { server, caPem: pki.ca.certPem, certPem: pki.admin.certPem, keyPem: pki.admin.keyPem }
  yield* waitUntil("kube-apiserver /readyz", expectStatus(adminTls, "/readyz"), [etcd, apiserver], deadline)
  options.log?.(`kube-apiserver ready at ${server}`)

  const controllerManager = yield* run("kube-controller-manager", options.tools["kube-controller-manager"], {
    kubeconfig: path("kubeconfigs", "controller-manager.kubeconfig"),
    // No health endpoint is needed (readiness is judged by what the component does), so no port to collide.
    "secure-port": "0",
    "leader-elect": "false",
    "use-service-account-credentials": "true",
    "service-account-private-key-file": path("pki", "sa.key"),
    "root-ca-file": path("pki", "ca.crt"),
    "cluster-signing-cert-file": path("pki", "ca.crt"),
    "cluster-signing-key-file": path("pki", "ca.key"),
    "service-cluster-ip-range": serviceCidr,
    "node-monitor-grace-period": NODE_HEARTBEAT_GRACE,
    "node-startup-grace-period": NODE_HEARTBEAT_GRACE,
    controllers: ["*", ...DISABLED_CONTROLLERS.map((name) => `-${name}`)].join(","),
    profiling: "false",
  })
  const scheduler = yield* run("kube-scheduler", options.tools["kube-scheduler"], {
    kubeconfig: path("kubeconfigs", "scheduler.kubeconfig"),
    "secure-port": "0",
    "leader-elect": "false",
    profiling: "false",
  })
  const processes = [etcd, apiserver, controllerManager, scheduler]
  yield* waitUntil(
    "the default ServiceAccount (kube-controller-manager)",
    expectStatus(adminTls, "/api/v1/namespaces/default/serviceaccounts/default"),
    processes,
    deadline,
  )
  // A component that dies later would otherwise go unnoticed until some test times out.
  yield* Effect.forkScoped(
    failFastOn(processes).pipe(Effect.catch((error) => Effect.sync(() => options.log?.(error.message)))),
  )
  return { kubeconfigPath, server, caPem: pki.ca.certPem, serviceCidr, dir } satisfies ControlPlaneEndpoint
})

// Ports are picked free but bound only later, so another process can take one in between.
const isPortCollision = (error: ControlPlaneError) => error.message.includes("address already in use")
const START_ATTEMPTS = 3

/**
 * Starts etcd, kube-apiserver, kube-controller-manager and kube-scheduler on 127.0.0.1 for the
 * lifetime of the current scope, and waits until the `default` ServiceAccount exists (which
 * proves the controller-manager works). Closing the scope stops every process and removes `dir`.
 */
const acquireControlPlane = Effect.fn("acquireControlPlane")(function* (options: ControlPlaneOptions) {
  const startedAt = performance.now()
  const deadline = Date.now() + (options.startTimeoutMs ?? 120_000)
  const scope = yield* Scope.Scope
  for (let attempt = 1; ; attempt++) {
    // Each attempt owns a child scope, so a failed one is torn down before the next begins.
    const attemptScope = yield* Scope.fork(scope)
    const result = yield* startOnce(options, deadline).pipe(Scope.provide(attemptScope), Effect.result)
    if (result._tag === "Success") {
      options.log?.(
        `control plane ready in ${((performance.now() - startedAt) / 1000).toFixed(1)}s at ${result.success.server}`,
      )
      return result.success
    }
    yield* Scope.close(attemptScope, Exit.fail(result.failure))
    if (attempt >= START_ATTEMPTS || !isPortCollision(result.failure)) return yield* result.failure
    options.log?.(`a port was taken while starting; retrying (attempt ${attempt + 1} of ${START_ATTEMPTS})`)
  }
})

/** A running local control plane; `stop()` ends every process (SIGTERM, then SIGKILL) and removes `dir`. */
export interface ControlPlane extends ControlPlaneEndpoint {
  stop(): Promise<void>
}

/** Promise front door for vitest global setups and scripts; see `acquireControlPlane`. */
export const startControlPlane = (options: ControlPlaneOptions): Promise<ControlPlane> =>
  startScoped(acquireControlPlane(options))

/** The local control plane as an Effect service, started when its layer is built and stopped with it. */
export class LocalControlPlane extends Context.Service<LocalControlPlane, ControlPlaneEndpoint>()(
  "@fly-tunnel-operator/local-stack/LocalControlPlane",
) {
  static readonly layer = (options: ControlPlaneOptions) =>
    Layer.effect(LocalControlPlane, acquireControlPlane(options))
}
