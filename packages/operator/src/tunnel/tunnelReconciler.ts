import { decodeFlyTunnel, FINALIZER, Reasons } from "@fly-tunnel-operator/api"
import { type CertificateDetail, FlyClient } from "@fly-tunnel-operator/fly"
import { Duration, Effect, Option, Result } from "effect"
import { done, type ReconcileResult, requeueAfter, retry } from "../controller/reconcileResult.ts"
import { EventRecorder } from "../kube/eventRecorder.ts"
import { KubeCache } from "../kube/kubeCache.ts"
import { addFinalizer, readFresh } from "../kube/kubeClient.ts"
import { kubeTimeNow } from "../kube/kubeTime.ts"
import { FlyTunnel, parseKey } from "../kube/resourceType.ts"
import { ensureAdoptedApp } from "./appAdoption.ts"
import { AppCreator } from "./appCreator.ts"
import { CapacityBackoff } from "./capacityBackoff.ts"
import { certificateEvents } from "./certificateEvents.ts"
import { ensureAddresses, publishedAddresses, type TunnelAddresses } from "./flyAddress.ts"
import { ensureFlyApp } from "./flyApp.ts"
import { certificateStatus, ensureCertificates, recordedHostnames } from "./flyCertificates.ts"
import {
  configUnknown,
  ensureMachines,
  isTunnelMachine,
  listTunnelMachines,
  machinePlans,
  slotKeyOf,
  type TunnelMachine,
} from "./flyMachines.ts"
import { FlyProgress } from "./flyProgress.ts"
import { checkRegions } from "./flyRegions.ts"
import { ensureFlySecret } from "./flySecret.ts"
import { ensureClient } from "./frpcClient.ts"
import { checkFrpsCertificates } from "./frpsCertificateCheck.ts"
import { slotKey } from "./frpsSlot.ts"
import { removeGoOperatorClient } from "./goOperatorClient.ts"
import { invalidSpec, isTunnelBlocked, TunnelBlocked } from "./tunnelBlocked.ts"
import { ensureTunnelCredentials } from "./tunnelCredentials.ts"
import { haltTunnel } from "./tunnelHalt.ts"
import { flyAppName, type TunnelIdentity } from "./tunnelNames.ts"
import { checkTunnelPolicy, isRefused } from "./tunnelPolicyCheck.ts"
import { TunnelSettings } from "./tunnelSettings.ts"
import { checkedPorts, isReady, type Observations, portsNotPassing, tunnelStatus } from "./tunnelStatus.ts"
import { writeTunnelStatus } from "./tunnelStatusWriter.ts"
import { resolveTarget } from "./tunnelTarget.ts"
import { finalizeTunnel } from "./tunnelTeardown.ts"

/**
 * While provisioning, the tunnel is woken by what it waits for: its frpc Deployments (the informer), its Machines
 * starting and its checks passing (FlyProgress). This is only the safety net should such a wake-up be lost.
 */
const SAFETY_NET_INTERVAL = "60 seconds"
/** While a certificate waits for its DNS, how often Fly is asked to check it again (see TunnelSettings). */
const CERTIFICATE_POLL: Duration.Input = "15 seconds"

/** Runs a step, turning its TunnelBlocked into an observation instead of a failure of the whole reconcile. */
const attempt = <A, E, R>(
  blocked: Array<TunnelBlocked>,
  step: Effect.Effect<A, E | TunnelBlocked, R>,
): Effect.Effect<Option.Option<A>, Exclude<E, TunnelBlocked>, R> =>
  step.pipe(
    Effect.map(Option.some),
    Effect.catchIf<E | TunnelBlocked, TunnelBlocked, Option.Option<A>, never, never>(isTunnelBlocked, (error) =>
      Effect.sync(() => {
        blocked.push(error)
        return Option.none<A>()
      }),
    ),
  )

/** Asks FlyProgress for what the tunnel waits on at Fly now: Machines to start, or then (frpc applied) their checks. */
const awaitOnFly = (progress: FlyProgress["Service"], key: string, observations: Observations) => {
  const { app, machines, spec } = observations
  if (app === undefined || machines === undefined || spec === undefined || machines.length === 0) return Effect.void
  const starting = machines.filter(
    ({ machine }) => machine.state !== "started" && machine.state !== "destroyed" && !configUnknown(machine),
  )
  if (starting.length > 0) {
    return progress.awaitStarted(
      key,
      app.name,
      starting.map(({ machine }) => ({ id: machine.id, version: machine.instance_id })),
    )
  }
  // From the moment frpc is applied, not once it rolled out: its Pod starting and Fly's next probe overlap, and the
  // tunnel is woken by whichever comes last (the Deployment informer reports the rollout).
  const checking = machines.filter((entry) => portsNotPassing(entry.machine, checkedPorts(entry, spec)).length > 0)
  if (observations.clientRolledOut !== undefined && checking.length > 0) {
    return progress.awaitChecks(
      key,
      app.name,
      checking.map((entry) => ({ id: entry.machine.id, ports: checkedPorts(entry, spec) })),
    )
  }
  return Effect.void
}

/**
 * The Tunnel controller's reconcile: reads the FlyTunnel from the cache, converges Fly and the cluster, then writes
 * what it saw as status. The cluster's policy and the tunnel's credentials (token, certificates) come before any Fly
 * call; regions are checked against Fly's list before anything is created. Independent steps run
 * side by side: the App first (created at once for a new tunnel, in line for Fly's per-org limit; or, with spec.adopt,
 * the App taken over once its ownership rule holds, see appAdoption.ts), then the Machine
 * branch (the token, frps's certificate and the mark as secrets, one Machine per slot) beside the address branch (the
 * IPv4 and IPv6 at once, then the hostnames' certificates); then frpc, which dials the pinned target and follows its
 * Machine (out, or changed, once that runs the desired config and is started). Reads whose answer is known are skipped:
 * a just-created App has no Machines, IPs or certificates, and a recorded App's are listed alongside its look. Every
 * step looks before it creates, so a crash or a lost
 * answer at any point is repaired by the next pass without duplicates. What the tunnel then waits for wakes it (see
 * FlyProgress); no fixed requeue.
 */
export const reconcileTunnel = Effect.fn("reconcileTunnel")(function* (key: string) {
  const cache = yield* KubeCache
  const capacity = yield* CapacityBackoff
  const events = yield* EventRecorder
  const progress = yield* FlyProgress
  const creator = yield* AppCreator
  const { namespace = "", name } = parseKey(key)
  const found = yield* cache.tunnels.get(name, namespace)
  const gone = Effect.all([progress.forget(key), creator.forget(key)], { discard: true })
  if (Option.isNone(found)) {
    yield* gone
    return done
  }
  let tunnel = found.value
  if (tunnel.status?.app?.id === undefined) {
    // Until status records the App, the cache may lag behind this controller's own last status write (an App
    // recorded a moment ago, the tunnel woken at once by frpc's rollout): a pass on that view would ask for the App
    // again and push the token again. Read it fresh (one GET, only while the tunnel is new).
    const fresh = yield* readFresh(FlyTunnel, name, namespace)
    if (Option.isNone(fresh)) {
      yield* gone
      return done
    }
    tunnel = fresh.value
  }
  const identity: TunnelIdentity = { namespace, name, uid: tunnel.metadata?.uid ?? "" }
  if (tunnel.metadata?.deletionTimestamp !== undefined) {
    yield* gone
    return yield* finalizeTunnel(tunnel, identity)
  }

  const generation = tunnel.metadata?.generation ?? 0
  const decoded = yield* Effect.result(decodeFlyTunnel(tunnel))
  if (decoded._tag === "Failure") {
    // Admission should have refused it; if not, say which field and provision nothing.
    const invalid = invalidSpec(decoded.failure.message)
    yield* writeTunnelStatus(
      tunnel,
      tunnelStatus({ generation, blocked: [invalid] }, tunnel.status, yield* kubeTimeNow),
    )
    yield* events.record(tunnel, { type: "Warning", reason: Reasons.InvalidSpec, message: invalid.message })
    return done
  }
  const spec = decoded.success.spec
  // The cluster's policy, before anything is created (no finalizer either: a refused new tunnel owns nothing).
  const verdict = yield* checkTunnelPolicy(namespace, spec, tunnel.status?.targetAddress)
  if (isRefused(verdict)) {
    yield* gone
    return yield* haltTunnel(tunnel, identity, spec, verdict.blocked, { stopClients: verdict.addressRefused })
  }
  tunnel = yield* addFinalizer(FlyTunnel, tunnel, FINALIZER)

  // The token and the certificates, made whole and stored before Fly or frpc ever see them.
  const credentials = yield* ensureTunnelCredentials(identity).pipe(Effect.catchTag("TunnelBlocked", Effect.succeed))
  if (isTunnelBlocked(credentials)) {
    yield* gone
    return yield* haltTunnel(tunnel, identity, spec, credentials, { stopClients: false })
  }
  const { token, tls } = credentials

  const blocked: Array<TunnelBlocked> = []
  const fly = yield* FlyClient
  // spec.adopt: an App this tunnel takes over instead of making its own (appAdoption.ts).
  const adopt = spec.adopt
  const adopted = adopt !== undefined
  const appName = adopt?.app ?? flyAppName(identity)
  // A region Fly does not have is refused before anything of the tunnel is created.
  const regionsKnown = yield* attempt(blocked, checkRegions(spec.regions))
  let observations: Observations = { generation, spec, blocked, tls: credentials.tlsStatus }
  // After Fly had no capacity, the Machines wait their turn; what already runs keeps running.
  const capacityWait = yield* capacity.remaining(identity.uid)
  if (Option.isSome(regionsKnown)) {
    // A recorded App's Machines, IPs and (with hostnames) certificates are read alongside its look: the reads drift
    // detection needs, all at once.
    const recorded = tunnel.status?.app?.id !== undefined
    const recordedHosts = recordedHostnames(tunnel.status)
    const wantsCertificates = spec.hostnames.length > 0 || recordedHosts.length > 0
    // An adopted App is never created, so it is always looked at (never the new tunnel's create without a look).
    const [app, listedMachines, listedIps, listedCertificates] = yield* Effect.all(
      [
        adopt === undefined
          ? attempt(blocked, ensureFlyApp(identity, key, tunnel.status !== undefined)).pipe(
              Effect.map((answer) => Result.succeed(answer)),
              Effect.catchTag("AppCreationQueued", (queued) => Effect.succeed(Result.fail(queued))),
            )
          : attempt(blocked, ensureAdoptedApp(identity, tunnel, adopt)).pipe(
              Effect.map((found) => Result.succeed(Option.map(found, (flyApp) => ({ app: flyApp, created: false })))),
            ),
        recorded ? Effect.option(listTunnelMachines(fly, appName, identity, adopted)) : Effect.succeedNone,
        recorded ? Effect.option(fly.listIpAssignments(appName)) : Effect.succeedNone,
        recorded && wantsCertificates ? Effect.option(fly.listCertificates(appName)) : Effect.succeedNone,
      ],
      { concurrency: "unbounded" },
    )
    if (Result.isFailure(app)) {
      // In line for its App: say so; AppCreator wakes the tunnel with the answer.
      const waiting = tunnelStatus(
        { generation, spec, blocked, tls: credentials.tlsStatus, appCreationQueued: true },
        tunnel.status,
        yield* kubeTimeNow,
      )
      yield* writeTunnelStatus(tunnel, waiting)
      return requeueAfter(SAFETY_NET_INTERVAL)
    }
    if (Option.isSome(app.success)) {
      const { app: flyApp, created } = app.success.value
      observations = { ...observations, app: flyApp }
      const known = <A>(listed: Option.Option<ReadonlyArray<A>>): ReadonlyArray<A> | undefined =>
        created ? [] : Option.getOrUndefined(listed)
      const pushToken = attempt(blocked, ensureFlySecret(identity, token, tls, flyApp, tunnel.status?.app, adopted))
      // Nothing changes on an adopted App before it carries the marks that let teardown remove what was changed: its
      // token and marks go first, and neither branch starts without them.
      const pushedFirst = adopted ? Option.some(yield* pushToken) : Option.none()
      const marked = Option.match(pushedFirst, { onNone: () => true, onSome: Option.isSome })
      // The adopted App's address is the one it holds: published from the start, so none other is ever allocated.
      const published = publishedAddresses(tunnel.status)
      const [machineBranch, addressBranch] = yield* Effect.all(
        [
          Effect.gen(function* () {
            const pushed = Option.isSome(pushedFirst) ? pushedFirst.value : yield* pushToken
            if (Option.isNone(pushed) || Option.isSome(capacityWait))
              return { pushed, machines: Option.none<ReadonlyArray<TunnelMachine>>() }
            const machines = yield* attempt(
              blocked,
              ensureMachines(identity, spec, flyApp, pushed.value, tls.trustPem, known(listedMachines), adopted),
            )
            return { pushed, machines }
          }),
          Effect.gen(function* () {
            if (!marked)
              return {
                address: Option.none<TunnelAddresses>(),
                certificates: Option.none<ReadonlyArray<CertificateDetail>>(),
              }
            const address = yield* attempt(
              blocked,
              ensureAddresses(
                flyApp,
                {
                  ipv4: spec.ipv4,
                  ipv6: spec.ipv6,
                  published:
                    adopt === undefined || published.v4 !== undefined ? published : { ...published, v4: adopt.ipv4 },
                },
                known(listedIps),
              ),
            )
            if (Option.isNone(address)) return { address, certificates: Option.none() }
            // Certificates come right after the addresses (so Fly's DNS instructions name them) and never wait for
            // the tunnel to carry bytes: DNS can only be pointed at an address once it is published.
            const certificates = wantsCertificates
              ? attempt(
                  blocked,
                  ensureCertificates(
                    flyApp,
                    { hostnames: spec.hostnames, recorded: recordedHosts },
                    known(listedCertificates),
                  ),
                )
              : Effect.succeedNone
            return { address, certificates: yield* certificates }
          }),
        ],
        { concurrency: 2 },
      )
      const address = addressBranch.address
      // frpc follows its Machine: a slot's frpc goes out, or changes, once its Machine is started and runs the desired
      // config (see ensureClient); until then it is left as it is, serving the Machine as it is. Without this pass's
      // Machines (the token not pushed, Fly out of capacity), a started one is taken as it was listed.
      const readyMachines = Option.match(machineBranch.machines, {
        onSome: (entries) =>
          entries.filter((entry) => entry.current && entry.machine.state === "started").map((entry) => entry.machine),
        onNone: () =>
          (known(listedMachines) ?? []).filter(
            (machine) => machine.state === "started" && isTunnelMachine(identity, adopted)(machine),
          ),
      })
      const readySlots = new Set(readyMachines.map(slotKeyOf))
      // frpc dials the dedicated IPv4; a shared one carries no raw TCP, so there it dials the IPv6 (which a shared IPv4
      // requires of the spec).
      const serverAddress = Option.isSome(address)
        ? spec.ipv4 === "shared"
          ? address.value.v6
          : address.value.v4
        : undefined
      const client = yield* Effect.gen(function* () {
        if (serverAddress === undefined) return { target: Option.none<string>(), rolledOut: undefined }
        // An address target is dialled at the address the policy checked (pinned), never re-resolved by frpc.
        const target = yield* attempt(blocked, resolveTarget(namespace, spec, verdict.targetAddress))
        if (Option.isNone(target)) return { target, rolledOut: undefined }
        const rolledOut = yield* ensureClient(
          identity,
          spec,
          credentials,
          serverAddress,
          // A ready slot's frpc dials the control port its Machine serves.
          machinePlans(spec, readyMachines),
          target.value,
          (plan) => !readySlots.has(slotKey(plan)),
        )
        return { target, rolledOut }
      })
      const pushed = machineBranch.pushed
      if (adopt !== undefined && Option.isSome(pushed) && tunnel.status?.app?.id !== flyApp.id)
        yield* events.record(tunnel, {
          type: "Normal",
          reason: Reasons.AppAdopted,
          message: `took over Fly App ${flyApp.name}, keeping its IPv4 ${adopt.ipv4}; its Machines are replaced`,
        })
      // The Go operator's frpc dials the adopted address, where it is refused now: it goes once the App is ours.
      // Looked for until the tunnel is Ready (a read per pass), then never again.
      if (adopt !== undefined && Option.isSome(pushed) && !isReady(tunnel.status)) {
        const removed = yield* attempt(blocked, removeGoOperatorClient(adopt.ipv4))
        if (Option.isSome(removed) && removed.value.length > 0)
          yield* events.record(tunnel, {
            type: "Normal",
            reason: Reasons.AppAdopted,
            message: `removed the Go operator's frpc of ${adopt.app}: ${removed.value.join(", ")}`,
          })
      }
      // frpc runs but Fly does not see it: if the certificate frpc is shown is why, say so (on ClientReady).
      if (client.rolledOut === true && serverAddress !== undefined && Option.isSome(machineBranch.machines))
        yield* attempt(blocked, checkFrpsCertificates(identity, serverAddress, machineBranch.machines.value, tls))
      observations = {
        ...observations,
        ...(Option.isSome(machineBranch.pushed) ? { token: machineBranch.pushed.value } : {}),
        ...(Option.isSome(machineBranch.machines) ? { machines: machineBranch.machines.value } : {}),
        ...(Option.isSome(address) ? { address: address.value.v4 } : {}),
        ...(Option.isSome(address) && address.value.v6 !== undefined ? { ipv6: address.value.v6 } : {}),
        ...(Option.isSome(client.target) ? { targetAddress: client.target.value } : {}),
        ...(client.rolledOut === undefined ? {} : { clientRolledOut: client.rolledOut }),
        ...(Option.isSome(addressBranch.certificates)
          ? { certificates: addressBranch.certificates.value.map(certificateStatus) }
          : {}),
      }
    }
  }

  // No capacity for a Machine: wait minutes (doubling, capped), not a retry storm, and say what waiting costs.
  const refused = blocked.findIndex((issue) => issue.reason === Reasons.FlyCapacity)
  const outOfCapacity = blocked[refused]
  const waiting = Option.isSome(capacityWait)
    ? capacityWait.value
    : outOfCapacity !== undefined
      ? yield* capacity.refused(identity.uid, outOfCapacity.message)
      : undefined
  if (waiting === undefined && observations.machines !== undefined) yield* capacity.cleared(identity.uid)
  if (waiting !== undefined) {
    const kept =
      observations.address === undefined
        ? ""
        : spec.ipv4 === "shared"
          ? `; the shared IPv4 ${observations.address} is kept for it while it waits`
          : `; the dedicated IPv4 ${observations.address} is kept for it ($2/month) while it waits`
    const issue = new TunnelBlocked({
      condition: "MachinesReady",
      reason: Reasons.FlyCapacity,
      message: `${waiting.message}${kept}; next try in ${Duration.format(waiting.wait)} (another region or Machine size may have room)`,
      retry: true,
    })
    if (outOfCapacity === undefined) blocked.push(issue)
    else blocked[refused] = issue
  }
  const status = tunnelStatus(observations, tunnel.status, yield* kubeTimeNow)
  yield* writeTunnelStatus(tunnel, status)
  if (isReady(status) && !isReady(tunnel.status)) {
    yield* events.record(tunnel, {
      type: "Normal",
      reason: Reasons.Ready,
      message: `tunnel ready at ${observations.address}`,
    })
  }
  for (const issue of blocked)
    yield* events.record(tunnel, { type: "Warning", reason: issue.reason, message: issue.message })
  for (const event of certificateEvents(tunnel.status, observations.certificates ?? []))
    yield* events.record(tunnel, event)
  if (isReady(status) || blocked.some((issue) => !issue.retry)) yield* progress.forget(key)
  else yield* awaitOnFly(progress, key, observations)
  if (waiting !== undefined) return requeueAfter(waiting.wait)
  const soonest = Math.min(
    ...blocked.flatMap((issue) => (issue.retryAfterMillis === undefined ? [] : [issue.retryAfterMillis])),
  )
  if (Number.isFinite(soonest)) return requeueAfter(Duration.millis(soonest))
  if (blocked.some((issue) => issue.retry)) return retry
  if (blocked.length > 0) return done
  // A certificate waiting for DNS (or for Let's Encrypt's rate limit) is looked at again until it is issued: nothing
  // at Fly wakes the tunnel for it.
  const certificatePending = (status.certificates ?? []).some((certificate) => certificate.status !== "active")
  if (certificatePending) return requeueAfter((yield* TunnelSettings).certificatePoll ?? CERTIFICATE_POLL)
  if (isReady(status)) return done
  return requeueAfter(SAFETY_NET_INTERVAL) satisfies ReconcileResult
})
