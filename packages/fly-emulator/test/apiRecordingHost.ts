import {
  inMemoryMachineHost,
  type MachineExit,
  type MachineHost,
  type MachineSpec,
  type ProxyRoute,
} from "../src/index.ts"

/**
 * An in-memory machine host that records what the state machine asked of it, lets a test end a
 * machine's process (also during its start, as a program missing from the image does), and can hold
 * stops until released.
 */
export const recordingHost = () => {
  const base = inMemoryMachineHost()
  const starts: Array<MachineSpec> = []
  const stops: Array<string> = []
  const stopOptions: Array<{ id: string; signal?: string; timeoutMs?: number }> = []
  const exits = new Map<string, (exit: MachineExit) => void>()
  const exitsDuringStart = new Map<string, MachineExit>()
  let routes: ReadonlyArray<ProxyRoute> = []
  let stopGate: Promise<void> | undefined
  let openGate: (() => void) | undefined
  const host: MachineHost = {
    ...base,
    startMachine: async (spec, onExit) => {
      starts.push(spec)
      exits.set(spec.id, onExit)
      const early = exitsDuringStart.get(spec.config.image as string)
      if (early) onExit(early)
    },
    stopMachine: async (id, options) => {
      stops.push(id)
      stopOptions.push({ id, ...options })
      await stopGate
    },
    syncProxy: async (next) => {
      routes = next
    },
  }
  return {
    host,
    starts,
    stops,
    stopOptions,
    routes: () => routes,
    /** Ends the machine's process as if it exited on its own (with a signal: killed by it). */
    exit: (id: string, exitCode: number, signal?: string) =>
      exits.get(id)?.(signal === undefined ? { exitCode } : { exitCode, signal }),
    /** Every start of a machine of this image ends at once with `exit`, before the start returns. */
    exitDuringStart: (image: string, exit: MachineExit) => exitsDuringStart.set(image, exit),
    holdStops: () => {
      stopGate = new Promise((resolve) => {
        openGate = resolve
      })
    },
    releaseStops: () => {
      openGate?.()
      stopGate = undefined
    },
  }
}
