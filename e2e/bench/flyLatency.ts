import type { Action } from "@fly-tunnel-operator/fly-emulator"

/**
 * Fly-like response times of the Machines API (ms), as seen from a cluster in Europe or North America: reads are
 * quick, creating a Machine (and its boot: the emulator starts it as its create returns) dominates. A wait costs a
 * round trip when the state is already reached, as after such a create.
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
  waitMachine: 150,
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

type Stages = ReadonlyArray<ReadonlyArray<ReadonlyArray<Action>>>

/**
 * The least Fly time before a new tunnel's Machine is up and its address allocated, whoever makes the calls: create
 * the App (its name is the tunnel's own, so nothing to look for first); then, side by side, the Machine branch (the
 * token secret, then the Machine, which needs the secret's version) and the address branch (the IPv4). Nothing to
 * list in a just-created App. Anything above this is what the operator, Kubernetes, frpc and the checks add.
 */
export const criticalPath: Stages = [[["createApp"]], [["setSecrets", "createMachine"], ["createIpAssignment"]]]

/**
 * The Go operator's create path in its call order (no CRD; one reconcile, one call after the other): create the
 * App, create the Machine, wait for it to start, allocate the IPv4 (GraphQL; timed as the REST allocation), then its
 * Kubernetes writes — the frpc ConfigMap and Deployment, the Service's annotations, its status — after which its
 * Service shows the EXTERNAL-IP. Its frpc only then starts; its Machine has no checks.
 */
export const goOperatorPath: Stages = [
  [["createApp"]],
  [["createMachine"]],
  [["waitMachine"]],
  [["createIpAssignment"]],
]
export const GO_OPERATOR_KUBE_WRITES = 4

/** Sum over the sequential stages of the slowest parallel branch of each. */
export const pathMs = (stages: Stages, latency: Record<Action, number>): number =>
  stages.reduce(
    (total, stage) =>
      total + Math.max(...stage.map((branch) => branch.reduce((sum, action) => sum + latency[action], 0))),
    0,
  )

export const describePath = (stages: Stages): string =>
  stages.map((stage) => stage.map((branch) => branch.join(" → ")).join(" ∥ ")).join(", then ")
