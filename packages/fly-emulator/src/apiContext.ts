import type { AcmeFaults } from "./acmeFaults.ts"
import type { CheckStatus } from "./machineChecks.ts"
import type { MachineHost } from "./machineHost.ts"
import type { MachineLifecycle } from "./machineLifecycle.ts"
import type { MachineRecord, Store } from "./store.ts"

/** What every API handler works with. */
export interface ApiContext {
  readonly store: Store
  readonly lifecycle: MachineLifecycle
  readonly host: MachineHost
  readonly regions: ReadonlyArray<string>
  /** Right after create, wait answers 404 this long (the Machines API's wait); 0 = never. */
  readonly waitNotFoundAfterCreateMs: number
  /** A Machine's `checks` as the API reports them (machineChecks.ts). */
  readonly checks: (machine: MachineRecord) => ReadonlyArray<CheckStatus>
  /** Let's Encrypt's faults per hostname, armed through the control surface. */
  readonly acmeFaults: AcmeFaults
}

/** One decoded API request. */
export interface ApiRequest {
  readonly params: Readonly<Record<string, string>>
  readonly query: URLSearchParams
  readonly headers: Readonly<Record<string, string | ReadonlyArray<string> | undefined>>
  readonly body: unknown
  /** Aborts when the client goes away. */
  readonly signal: AbortSignal
}
