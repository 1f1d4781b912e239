import type { Action } from "./actions.ts"

export interface RateLimitRule {
  /** Tokens added per second. */
  readonly perSecond: number
  readonly burst: number
}

/** Fly's published limits (the Machines API's rate limits): 1/s burst 3 per action and id; Get Machine 5/s burst 10. */
export const flyRateLimits: Readonly<Record<Action, RateLimitRule>> = {
  createApp: { perSecond: 1, burst: 3 },
  getApp: { perSecond: 1, burst: 3 },
  // App deletions: 100 per minute.
  deleteApp: { perSecond: 100 / 60, burst: 100 },
  listApps: { perSecond: 1, burst: 3 },
  listMachines: { perSecond: 1, burst: 3 },
  getMachine: { perSecond: 5, burst: 10 },
  createMachine: { perSecond: 1, burst: 3 },
  updateMachine: { perSecond: 1, burst: 3 },
  waitMachine: { perSecond: 1, burst: 3 },
  deleteMachine: { perSecond: 1, burst: 3 },
  startMachine: { perSecond: 1, burst: 3 },
  stopMachine: { perSecond: 1, burst: 3 },
  restartMachine: { perSecond: 1, burst: 3 },
  acquireLease: { perSecond: 1, burst: 3 },
  getLease: { perSecond: 1, burst: 3 },
  releaseLease: { perSecond: 1, burst: 3 },
  listIpAssignments: { perSecond: 1, burst: 3 },
  createIpAssignment: { perSecond: 1, burst: 3 },
  deleteIpAssignment: { perSecond: 1, burst: 3 },
  listSecrets: { perSecond: 1, burst: 3 },
  setSecrets: { perSecond: 1, burst: 3 },
  listRegions: { perSecond: 1, burst: 3 },
  listCertificates: { perSecond: 1, burst: 3 },
  createAcmeCertificate: { perSecond: 1, burst: 3 },
  getCertificate: { perSecond: 1, burst: 3 },
  checkCertificate: { perSecond: 1, burst: 3 },
  deleteCertificate: { perSecond: 1, burst: 3 },
}

/** A token bucket per (action, machine id or app name). */
export class RateLimiter {
  enabled: boolean
  private rules: Record<Action, RateLimitRule>
  private readonly buckets = new Map<string, { tokens: number; at: number }>()

  constructor(enabled: boolean) {
    this.enabled = enabled
    this.rules = { ...flyRateLimits }
  }

  setRules(rules: Partial<Record<Action, RateLimitRule>>): void {
    this.rules = { ...this.rules, ...rules }
    this.buckets.clear()
  }

  reset(enabled: boolean): void {
    this.enabled = enabled
    this.rules = { ...flyRateLimits }
    this.buckets.clear()
  }

  /** Takes a token; false means the call must be answered 429. */
  take(action: Action, key: string, now: number = Date.now()): boolean {
    if (!this.enabled) return true
    const rule = this.rules[action]
    const id = `${action}\u0000${key}`
    const bucket = this.buckets.get(id) ?? { tokens: rule.burst, at: now }
    bucket.tokens = Math.min(rule.burst, bucket.tokens + ((now - bucket.at) / 1000) * rule.perSecond)
    bucket.at = now
    this.buckets.set(id, bucket)
    if (bucket.tokens < 1) return false
    bucket.tokens -= 1
    return true
  }
}
