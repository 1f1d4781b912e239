export { type Action, actions } from "./actions.ts"
export type { Call } from "./CallLog.ts"
export { CheckMark } from "./checkMarks.ts"
export type { EmulatorState } from "./Emulator.ts"
export { Fault } from "./Faults.ts"
export { FlyEmulator } from "./FlyEmulator.ts"
export type { Latency, LatencySettings } from "./LatencyModel.ts"
export type {
  CheckObservation,
  MachineExit,
  MachineHost,
  MachineSpec,
  NamedCheck,
  ProxyRoute,
  ProxyStats,
  PublicIpType,
} from "./MachineHost.ts"
export { inMemoryMachineHost } from "./MachineHost.ts"
export type { LifecycleTimings } from "./MachineLifecycle.ts"
export { type CheckStatus, namedChecks } from "./machineChecks.ts"
export type { RateLimitRule } from "./RateLimiter.ts"
export { flyRateLimits } from "./RateLimiter.ts"
export { defaultRegionCodes, flyRegions } from "./regions.ts"
export type { HostStatus } from "./Store.ts"
export { type EmulatorOptions, type RunningEmulator, startEmulator } from "./startEmulator.ts"
