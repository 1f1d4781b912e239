import type { Action } from "@fly-tunnel-operator/fly-emulator"

/**
 * Fly-like response times of the Machines API (ms), as seen from a cluster in Europe or North America: reads are
 * quick, creating a Machine and waiting for it to start dominate.
 */
export const flyLikeLatencyMs = {
  listApps: 200,
  getApp: 150,
  createApp: 400,
  deleteApp: 400,
  listSecrets: 150,
  setSecrets: 300,
  listMachines: 200,
  getMachine: 150,
  createMachine: 1500,
  updateMachine: 1200,
  waitMachine: 1000,
  startMachine: 500,
  stopMachine: 500,
  restartMachine: 1000,
  acquireLease: 200,
  getLease: 150,
  releaseLease: 200,
  deleteMachine: 500,
  listIpAssignments: 200,
  createIpAssignment: 600,
  deleteIpAssignment: 300,
  listRegions: 150,
  listCertificates: 200,
  createAcmeCertificate: 500,
  getCertificate: 150,
  checkCertificate: 400,
  deleteCertificate: 300,
} satisfies Record<Action, number>

/**
 * The least Fly time before a Service gets its address (published once the tunnel is Ready), whoever makes the
 * calls: look for the App, create it; then, in parallel (the design's rule 6), the Machine branch (token secret,
 * look at the Machines, create one) and the address branch (look at the IPs, allocate one). A Machine is started
 * when its create returns (the createMachine figure stands for Fly's create-and-boot; the operator does not call
 * wait). Anything above this is what the operator, the Kubernetes control plane and frpc add.
 */
export const criticalPath: ReadonlyArray<ReadonlyArray<ReadonlyArray<Action>>> = [
  [["getApp", "createApp"]],
  [
    ["setSecrets", "listMachines", "createMachine"],
    ["listIpAssignments", "createIpAssignment"],
  ],
]

/** Sum over the sequential stages of the slowest parallel branch of each. */
export const criticalPathMs = (latency: Record<Action, number>): number =>
  criticalPath.reduce(
    (total, stage) =>
      total + Math.max(...stage.map((branch) => branch.reduce((sum, action) => sum + latency[action], 0))),
    0,
  )
