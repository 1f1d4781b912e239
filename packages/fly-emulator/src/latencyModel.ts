import type { Action } from "./actions.ts"

export interface Latency {
  readonly ms: number
  readonly jitterMs?: number
}

export type LatencySettings = Partial<Record<Action, Latency>>

/** How long each action takes before it is handled: fixed ms plus uniform jitter. Zero by default. */
export class LatencyModel {
  private settings: LatencySettings

  constructor(settings: LatencySettings = {}) {
    this.settings = { ...settings }
  }

  /** Merges settings; an action set to null goes back to zero. */
  set(settings: Partial<Record<Action, Latency | null>>): void {
    const next: Record<string, Latency> = { ...this.settings }
    for (const [action, latency] of Object.entries(settings)) {
      if (latency === null || latency === undefined) delete next[action]
      else next[action] = latency
    }
    this.settings = next
  }

  replace(settings: LatencySettings): void {
    this.settings = { ...settings }
  }

  current(): LatencySettings {
    return { ...this.settings }
  }

  delayFor(action: Action): number {
    const latency = this.settings[action]
    if (!latency) return 0
    return Math.max(0, latency.ms + (latency.jitterMs ? Math.random() * latency.jitterMs : 0))
  }
}
