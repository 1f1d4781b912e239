export { AcmeFault } from "./acmeFaults.ts"
export { type Action, actions } from "./actions.ts"
export type { Call } from "./callLog.ts"
export { CheckMark } from "./checkMarks.ts"
export { DnsUpdate, type EmulatorState } from "./emulator.ts"
export { Fault } from "./faults.ts"
export type { Latency, LatencySettings } from "./latencyModel.ts"
export { type CheckStatus, namedChecks } from "./machineChecks.ts"
export type {
  CheckObservation,
  MachineExit,
  MachineHost,
  MachineSpec,
  NamedCheck,
  ProxyRoute,
  ProxyStats,
  PublicIpType,
} from "./machineHost.ts"
export { inMemoryMachineHost } from "./machineHost.ts"
export type { LifecycleTimings } from "./machineLifecycle.ts"
export { relayTcp } from "./proxy/tcpForwarding.ts"
export type { RateLimitRule } from "./rateLimiter.ts"
export { flyRateLimits } from "./rateLimiter.ts"
export { defaultRegionCodes, flyRegions } from "./regions.ts"
export { type EmulatorOptions, type RunningEmulator, startEmulator } from "./startEmulator.ts"
export type { HostStatus } from "./store.ts"
