import type { ChaosPlanOptions } from "./chaosPlan.ts"

/** Many short runs: hangs are cheap with the fast tier's short client timeout. */
export const IN_PROCESS_PLAN: ChaosPlanOptions = {
  steps: 30,
  maxServices: 3,
  regions: ["ord", "ams", "fra"],
  maxWaitMs: 300,
  hangs: true,
}

/** Fewer, longer runs: real frps and frpc start, and a hang would cost the Fly client's 30 s timeout. */
export const LOCAL_STACK_PLAN: ChaosPlanOptions = {
  steps: 16,
  maxServices: 2,
  regions: ["ord", "ams"],
  maxWaitMs: 3000,
  hangs: false,
}
