/**
 * The Fly Machines API calls this client makes. The names are shared with the emulator's call log
 * and label the client's metrics; they are also the rate-limit "actions" of Fly's per-action budget.
 */
export const Endpoints = [
  "createApp",
  "getApp",
  "listApps",
  "deleteApp",
  "listMachines",
  "getMachine",
  "createMachine",
  "updateMachine",
  "waitMachine",
  "deleteMachine",
  "startMachine",
  "listIpAssignments",
  "createIpAssignment",
  "deleteIpAssignment",
  "setSecrets",
  "listSecrets",
  "listRegions",
  "listCertificates",
  "createAcmeCertificate",
  "getCertificate",
  "checkCertificate",
  "deleteCertificate",
] as const

export type Endpoint = (typeof Endpoints)[number]
