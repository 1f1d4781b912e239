/** The Machines API actions, named as the client's metrics name them. */
export const actions = [
  "createApp",
  "getApp",
  "deleteApp",
  "listApps",
  "listMachines",
  "getMachine",
  "createMachine",
  "updateMachine",
  "waitMachine",
  "deleteMachine",
  "startMachine",
  "stopMachine",
  "restartMachine",
  "acquireLease",
  "getLease",
  "releaseLease",
  "listIpAssignments",
  "createIpAssignment",
  "deleteIpAssignment",
  "listSecrets",
  "setSecrets",
  "listRegions",
  "listCertificates",
  "createAcmeCertificate",
  "getCertificate",
  "checkCertificate",
  "deleteCertificate",
] as const

export type Action = (typeof actions)[number]

export const isAction = (value: unknown): value is Action => actions.includes(value as Action)
