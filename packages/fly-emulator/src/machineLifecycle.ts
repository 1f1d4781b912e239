import { constants } from "node:os"
import { setTimeout as sleep } from "node:timers/promises"
import { ulid } from "./identifiers.ts"
import { namedChecks } from "./machineChecks.ts"
import type { MachineExit, MachineHost, MachineSpec } from "./machineHost.ts"
import type { MachineEvent, MachineRecord, MachineState, Store } from "./store.ts"

export interface LifecycleTimings {
  /** Time spent in each transient state (starting, stopping, replacing, destroying) before the host acts. */
  readonly transitionMs: number
  /** How long a destroyed machine stays visible before GET answers 404. */
  readonly destroyedRetentionMs: number
  /**
   * Pause before the restart policy boots an exited machine again, so a program that exits at once
   * (e.g. missing from the image, exit 127) does not spin. Fly documents no back-off of its own.
   */
  readonly restartDelayMs: number
}

export const defaultTimings: LifecycleTimings = { transitionMs: 0, destroyedRetentionMs: 2000, restartDelayMs: 1000 }

export interface StopOptions {
  readonly signal?: string
  readonly timeoutMs?: number
}

/**
 * `request.exit_event` as Fly sends it (fly-go's machine types): every field typed as fly-go decodes it,
 * `signal`/`guest_signal` -1 when no signal was involved, and no `exited_at` (Fly's own sources
 * disagree on its type, so a client must not need it).
 */
const exitEvent = (exit: MachineExit | undefined, flags: { requestedStop: boolean; restarting: boolean }) => {
  const signalNumber = exit?.signal === undefined ? -1 : (constants.signals[exit.signal as NodeJS.Signals] ?? -1)
  return {
    exit_code: exit?.exitCode ?? 0,
    guest_exit_code: exit?.signal === undefined ? (exit?.exitCode ?? 0) : 0,
    guest_signal: signalNumber,
    signal: -1,
    oom_killed: false,
    requested_stop: flags.requestedStop,
    restarting: flags.restarting,
  }
}

/** States from which a machine may be started (the Machines API's machine states). */
const startable: ReadonlyArray<MachineState> = ["created", "stopped", "suspended", "failed"]
/** States a non-forced destroy accepts. */
const destroyableWithoutForce: ReadonlyArray<MachineState> = ["created", "stopped", "suspended", "failed"]
const active: ReadonlyArray<MachineState> = ["starting", "started"]

export type Refusal = { readonly refused: string }

/**
 * The machine state machine. User actions change state synchronously (the answer shows it) and
 * queue the host work; the host's work per machine runs one at a time, and a generation number
 * makes the continuation of an action that a newer one superseded do nothing.
 */
export class MachineLifecycle {
  private readonly store: Store
  private readonly host: MachineHost
  private readonly timings: LifecycleTimings
  private readonly queues = new Map<string, Promise<void>>()

  constructor(store: Store, host: MachineHost, timings: LifecycleTimings) {
    this.store = store
    this.host = host
    this.timings = timings
  }

  isGone(machine: MachineRecord, now: number = Date.now()): boolean {
    return machine.destroyedAt !== undefined && now - machine.destroyedAt >= this.timings.destroyedRetentionMs
  }

  launch(machine: MachineRecord, skipLaunch: boolean): void {
    this.addEvent(machine, "launch", "created", "user")
    this.store.machines.set(machine.id, machine)
    this.store.changed()
    if (!skipLaunch) this.enqueue(machine, () => this.boot(machine, machine.generation))
  }

  start(machine: MachineRecord): { previousState: MachineState } | Refusal {
    const previousState = machine.state
    if (active.includes(previousState)) return { previousState }
    if (!startable.includes(previousState)) return { refused: "unable to start machine from current state" }
    machine.generation += 1
    machine.restarts = 0
    this.addEvent(machine, "start", "starting", "user")
    this.setState(machine, "starting")
    this.enqueue(machine, () => this.boot(machine, machine.generation))
    return { previousState }
  }

  stop(machine: MachineRecord, options: StopOptions): undefined | Refusal {
    if (machine.state === "replacing" || machine.state === "destroying")
      return { refused: "unable to stop machine from current state" }
    if (!active.includes(machine.state)) return undefined
    machine.generation += 1
    const generation = machine.generation
    this.addEvent(machine, "stop", "stopping", "user", { reason: "" })
    this.setState(machine, "stopping")
    this.enqueue(machine, async () => {
      await this.halt(machine, options)
      if (machine.generation !== generation) return
      this.addEvent(machine, "exit", "stopped", "flyd", {
        exit_event: exitEvent(undefined, { requestedStop: true, restarting: false }),
        restart_count: machine.restarts,
      })
      this.setState(machine, "stopped")
    })
    return undefined
  }

  /** Stops the process as asked (or at once with `forceStop`) and boots the same version again. */
  restart(machine: MachineRecord, options: StopOptions & { forceStop: boolean }): undefined | Refusal {
    if (machine.state !== "started") return { refused: "unable to restart machine, not currently started" }
    const { forceStop, ...stopOptions } = options
    machine.generation += 1
    const generation = machine.generation
    this.addEvent(machine, "restart", "stopping", "user")
    this.setState(machine, "stopping")
    this.enqueue(machine, async () => {
      await this.halt(machine, forceStop ? { signal: "SIGKILL" } : stopOptions)
      if (machine.generation !== generation) return
      this.addEvent(machine, "exit", "stopped", "flyd", {
        exit_event: exitEvent(undefined, { requestedStop: true, restarting: true }),
        restart_count: machine.restarts,
      })
      this.addEvent(machine, "restart", "starting", "flyd")
      this.setState(machine, "starting")
      await this.boot(machine, generation)
    })
    return undefined
  }

  update(machine: MachineRecord, config: Record<string, unknown>, skipLaunch: boolean): undefined | Refusal {
    if (machine.state === "replacing" || machine.state === "destroying")
      return { refused: "unable to update machine from current state" }
    const wasActive = active.includes(machine.state)
    // A stopped machine stays stopped (the Machines API's update); skip_launch leaves the new version down.
    const target: MachineState =
      wasActive && !skipLaunch ? "started" : machine.state === "created" || skipLaunch ? "created" : "stopped"
    machine.generation += 1
    const generation = machine.generation
    machine.instanceId = ulid()
    machine.config = config
    machine.restarts = 0
    this.addEvent(machine, "update", "replacing", "user")
    this.setState(machine, "replacing")
    this.enqueue(machine, async () => {
      await this.halt(machine, {})
      if (machine.generation !== generation) return
      if (target === "started") {
        this.setState(machine, "starting")
        await this.boot(machine, generation)
      } else this.setState(machine, target)
    })
    return undefined
  }

  destroy(machine: MachineRecord, force: boolean): undefined | Refusal {
    if (!force && !destroyableWithoutForce.includes(machine.state))
      return { refused: "unable to destroy machine, not currently stopped or suspended" }
    machine.generation += 1
    const generation = machine.generation
    this.setState(machine, "destroying")
    this.enqueue(machine, async () => {
      await this.halt(machine, force ? { signal: "SIGKILL" } : {})
      if (machine.generation !== generation) return
      await this.host.releaseMachine(machine.id)
      this.addEvent(machine, "destroy", "destroyed", "user")
      machine.destroyedAt = Date.now()
      this.setState(machine, "destroyed")
    })
    return undefined
  }

  /** Removes a deleted app's machines at once and stops their processes behind the scenes. */
  removeAll(app: string): void {
    for (const machine of this.store.machinesOf(app)) {
      machine.generation += 1
      machine.state = "destroyed"
      machine.destroyedAt = Date.now()
      this.store.machines.delete(machine.id)
      this.enqueue(machine, async () => {
        await this.halt(machine, { signal: "SIGKILL" })
        await this.host.releaseMachine(machine.id)
      })
    }
    this.store.changed()
  }

  /** Waits for every queued host action to finish. */
  async settle(): Promise<void> {
    while (this.queues.size > 0) await Promise.all([...this.queues.values()])
  }

  private enqueue(machine: MachineRecord, work: () => Promise<void>): void {
    const previous = this.queues.get(machine.id) ?? Promise.resolve()
    const next = previous
      .then(async () => {
        await sleep(this.timings.transitionMs)
        await work()
      })
      .catch((error: unknown) => {
        console.error(`fly-emulator: machine ${machine.id}: ${String(error)}`)
      })
      .finally(() => {
        if (this.queues.get(machine.id) === next) this.queues.delete(machine.id)
      })
    this.queues.set(machine.id, next)
  }

  private async boot(machine: MachineRecord, generation: number): Promise<void> {
    if (machine.generation !== generation) return
    if (machine.state !== "starting") this.setState(machine, "starting")
    // A program missing from the image exits during the start itself; that exit is applied once the
    // start is recorded, as on Fly (start, then exit 127), instead of being lost.
    let booted = false
    let earlyExit: MachineExit | undefined
    const onExit = (exit: MachineExit) => {
      if (booted) this.exited(machine, generation, exit)
      else earlyExit = exit
    }
    try {
      await this.host.startMachine(this.spec(machine), onExit)
    } catch (error) {
      if (machine.generation !== generation) return
      this.addEvent(machine, "launch", "failed", "flyd", { error: String(error) })
      this.setState(machine, "failed")
      return
    }
    booted = true
    machine.running = true
    if (machine.generation !== generation) return
    this.addEvent(machine, "start", "started", "flyd")
    this.setState(machine, "started")
    if (earlyExit !== undefined) this.exited(machine, generation, earlyExit)
  }

  private async halt(machine: MachineRecord, options: StopOptions): Promise<void> {
    if (!machine.running) return
    machine.running = false
    await this.host.stopMachine(machine.id, options)
  }

  /** A process ended on its own: apply the restart policy (the Machines API's machine states). */
  private exited(machine: MachineRecord, generation: number, exit: MachineExit): void {
    if (machine.generation !== generation || !machine.running) return
    machine.running = false
    const restart = (machine.config.restart ?? {}) as { policy?: string; max_retries?: number }
    const policy = restart.policy ?? "on-failure"
    const restarting =
      policy === "always" ||
      (policy === "on-failure" && exit.exitCode !== 0 && machine.restarts < (restart.max_retries ?? 10))
    this.addEvent(machine, "exit", "stopped", "flyd", {
      exit_event: exitEvent(exit, { requestedStop: false, restarting }),
      restart_count: machine.restarts,
    })
    if (restarting) {
      machine.restarts += 1
      this.setState(machine, "starting")
      this.enqueue(machine, async () => {
        await sleep(this.timings.restartDelayMs)
        await this.boot(machine, generation)
      })
      return
    }
    this.setState(machine, "stopped")
    if (machine.config.auto_destroy === true) this.destroy(machine, true)
  }

  private spec(machine: MachineRecord): MachineSpec {
    const secrets = Object.fromEntries(
      [...(this.store.secrets.get(machine.app)?.values() ?? [])].map((secret) => [secret.name, secret.value]),
    )
    const env = (machine.config.env ?? {}) as Record<string, string>
    return {
      id: machine.id,
      app: machine.app,
      instanceId: machine.instanceId,
      image: String(machine.config.image),
      region: machine.region,
      privateIp: machine.privateIp,
      config: machine.config,
      env: { ...secrets, ...env },
      secrets,
      checks: namedChecks(machine.config),
    }
  }

  private addEvent(
    machine: MachineRecord,
    type: string,
    status: string,
    source: MachineEvent["source"],
    request?: Record<string, unknown>,
  ): void {
    const event: MachineEvent = {
      id: ulid(),
      type,
      status,
      source,
      timestamp: Date.now(),
      ...(request ? { request } : {}),
    }
    machine.events = [event, ...machine.events]
  }

  private setState(machine: MachineRecord, state: MachineState): void {
    machine.state = state
    machine.updatedAt = new Date().toISOString().replace(/\.\d+Z$/, "Z")
    this.store.changed()
  }
}
