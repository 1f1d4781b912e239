import {
  inMemoryMachineHost,
  type MachineExit,
  type MachineHost,
  type MachineSpec,
  type ProxyRoute,
} from "../src/index.ts"

/**
 * An in-memory machine host that records what the state machine asked of it, lets a test end a
 * machine's process, and can hold stops until released.
 */
export const recordingHost = () => {
  const base = inMemoryMachineHost()
  const starts: Array<MachineSpec> = []
  const stops: Array<string> = []
  const exits = new Map<string, (exit: MachineExit) => void>()
  let routes: ReadonlyArray<ProxyRoute> = []
  let stopGate: Promise<void> | undefined
  let openGate: (() => void) | undefined
  const host: MachineHost = {
    ...base,
    startMachine: async (spec, onExit) => {
      starts.push(spec)
      exits.set(spec.id, onExit)
    },
    stopMachine: async (id) => {
      stops.push(id)
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
    routes: () => routes,
    /** Ends the machine's process as if it exited on its own. */
    exit: (id: string, exitCode: number) => exits.get(id)?.({ exitCode }),
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
