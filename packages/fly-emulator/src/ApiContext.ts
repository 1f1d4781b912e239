import type { MachineHost } from "./MachineHost.ts"
import type { MachineLifecycle } from "./MachineLifecycle.ts"
import type { Store } from "./Store.ts"

/** What every API handler works with. */
export interface ApiContext {
  readonly store: Store
  readonly lifecycle: MachineLifecycle
  readonly host: MachineHost
  readonly regions: ReadonlyArray<string>
  /** Right after create, wait answers 404 this long (reference §3.6); 0 = never. */
  readonly waitNotFoundAfterCreateMs: number
}

/** One decoded API request. */
export interface ApiRequest {
  readonly params: Readonly<Record<string, string>>
  readonly query: URLSearchParams
  readonly body: unknown
  /** Aborts when the client goes away. */
  readonly signal: AbortSignal
}
