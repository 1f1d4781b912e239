import type { CheckMarks } from "./checkMarks.ts"
import type { MachineService } from "./machineConfig.ts"
import type { CheckObservation, NamedCheck } from "./machineHost.ts"
import type { MachineRecord } from "./store.ts"

type Check = Readonly<Record<string, unknown>>

/**
 * A Machine's checks under the names Fly reports them by (the Machines API's Machine object): top-level checks by their
 * key, and every service check as `servicecheck-<NN>-<type>-<port>` — NN counts the Machine's service
 * checks from 00 in config order, the port is the check's own or the service's internal port. Fly's
 * logs show such names ("Health check 'servicecheck-00-http-8080' …"); how NN runs across several
 * services is not documented, so counting over all of them is the emulator's choice.
 */
export const namedChecks = (config: Readonly<Record<string, unknown>>): ReadonlyArray<NamedCheck> => {
  const topLevel = Object.entries((config.checks ?? {}) as Record<string, Check>).map(([name, check]) => ({
    name,
    internalPort: typeof check.port === "number" ? check.port : 0,
    check,
  }))
  let index = 0
  const services = ((config.services ?? []) as ReadonlyArray<MachineService>).flatMap((service) =>
    ((service.checks ?? []) as ReadonlyArray<Check>).map((check) => {
      const type = typeof check.type === "string" ? check.type : "tcp"
      const port = typeof check.port === "number" ? check.port : service.internal_port
      const name = `servicecheck-${String(index++).padStart(2, "0")}-${type}-${port}`
      return { name, internalPort: service.internal_port, check }
    }),
  )
  return [...topLevel, ...services]
}

/** One entry of a Machine's `checks` as the API answers it. */
export interface CheckStatus {
  readonly name: string
  readonly status: "passing" | "warning" | "critical"
  readonly output: string
  readonly updated_at: string
}

const unmarkedOutput = "no probe ran: the in-memory host runs no processes (mark checks through /_emulator/checks)"

/**
 * The `checks` list of a Machine: what the host's health checker observed (the same results the Fly
 * proxy routes by), or, on a host without processes, what a test marked. A check that has not passed
 * is never reported passing, and a Machine that is not started passes none.
 */
export const checkStatuses = (
  machine: MachineRecord,
  observed: ReadonlyMap<string, CheckObservation> | undefined,
  marks: CheckMarks,
): ReadonlyArray<CheckStatus> =>
  namedChecks(machine.config).map(({ name }): CheckStatus => {
    if (machine.state !== "started")
      return { name, status: "critical", output: "machine is not started", updated_at: machine.updatedAt }
    if (observed !== undefined) {
      const seen = observed.get(name)
      return seen === undefined
        ? { name, status: "critical", output: "not checked yet", updated_at: machine.updatedAt }
        : {
            name,
            status: seen.passing ? "passing" : "critical",
            output: seen.output,
            updated_at: later(seen.since, machine.updatedAt),
          }
    }
    const mark = marks.find(machine, name)
    return mark === undefined
      ? { name, status: "critical", output: unmarkedOutput, updated_at: machine.updatedAt }
      : { name, status: mark.status, output: mark.output ?? "", updated_at: later(mark.at, machine.updatedAt) }
  })

const later = (a: string, b: string): string => (Date.parse(a) >= Date.parse(b) ? a : b)
