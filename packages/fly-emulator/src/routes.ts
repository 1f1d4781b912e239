import type { Action } from "./actions.ts"
import type { ApiContext, ApiRequest } from "./apiContext.ts"
import { createApp, deleteApp, getApp, listApps } from "./appsApi.ts"
import {
  checkCertificate,
  createAcmeCertificate,
  deleteCertificate,
  getCertificate,
  listCertificates,
} from "./certificatesApi.ts"
import { createIpAssignment, deleteIpAssignment, listIpAssignments } from "./ipAssignmentsApi.ts"
import {
  acquireMachineLease,
  createMachine,
  deleteMachine,
  getMachine,
  getMachineLease,
  listMachines,
  releaseMachineLease,
  restartMachine,
  startMachine,
  stopMachine,
  updateMachine,
  waitMachine,
} from "./machinesApi.ts"
import { regionsResponse } from "./regions.ts"
import { ok, type Reply } from "./reply.ts"
import { deleteSecret, getSecret, listSecrets, setSecret, setSecrets } from "./secretsApi.ts"

type Handler = (context: ApiContext, request: ApiRequest) => Reply | Promise<Reply>

interface Route {
  readonly method: string
  /** Path segments after /v1; ":name" captures one. */
  readonly pattern: ReadonlyArray<string>
  readonly action: Action
  readonly handler: Handler
}

const route = (method: string, path: string, action: Action, handler: Handler): Route => ({
  method,
  pattern: path.split("/"),
  action,
  handler,
})

const machine = "apps/:app/machines/:id"

export const routes: ReadonlyArray<Route> = [
  route("GET", "apps", "listApps", listApps),
  route("POST", "apps", "createApp", createApp),
  route("GET", "apps/:app", "getApp", getApp),
  route("DELETE", "apps/:app", "deleteApp", deleteApp),
  route("GET", "apps/:app/machines", "listMachines", listMachines),
  route("POST", "apps/:app/machines", "createMachine", createMachine),
  route("GET", machine, "getMachine", getMachine),
  route("POST", machine, "updateMachine", updateMachine),
  route("DELETE", machine, "deleteMachine", deleteMachine),
  route("GET", `${machine}/wait`, "waitMachine", waitMachine),
  route("POST", `${machine}/start`, "startMachine", startMachine),
  route("POST", `${machine}/stop`, "stopMachine", stopMachine),
  route("POST", `${machine}/restart`, "restartMachine", restartMachine),
  route("POST", `${machine}/lease`, "acquireLease", acquireMachineLease),
  route("GET", `${machine}/lease`, "getLease", getMachineLease),
  route("DELETE", `${machine}/lease`, "releaseLease", releaseMachineLease),
  route("GET", "apps/:app/ip_assignments", "listIpAssignments", listIpAssignments),
  route("POST", "apps/:app/ip_assignments", "createIpAssignment", createIpAssignment),
  route("DELETE", "apps/:app/ip_assignments/:ip", "deleteIpAssignment", deleteIpAssignment),
  route("GET", "apps/:app/secrets", "listSecrets", listSecrets),
  route("POST", "apps/:app/secrets", "setSecrets", setSecrets),
  route("GET", "apps/:app/secrets/:name", "listSecrets", getSecret),
  route("POST", "apps/:app/secrets/:name", "setSecrets", setSecret),
  route("DELETE", "apps/:app/secrets/:name", "setSecrets", deleteSecret),
  route("GET", "apps/:app/certificates", "listCertificates", listCertificates),
  route("POST", "apps/:app/certificates/acme", "createAcmeCertificate", createAcmeCertificate),
  route("GET", "apps/:app/certificates/:hostname", "getCertificate", getCertificate),
  route("POST", "apps/:app/certificates/:hostname/check", "checkCertificate", checkCertificate),
  route("DELETE", "apps/:app/certificates/:hostname", "deleteCertificate", deleteCertificate),
  route("GET", "platform/regions", "listRegions", (context) => ok(regionsResponse(context.regions))),
]

export interface MatchedRoute {
  readonly route: Route
  readonly params: Record<string, string>
}

/**
 * Finds the route for a method and the path segments after /v1; `methodMismatch` when only the method
 * is wrong. Empty segments are kept: `/v1/apps/` names an app with an empty name, which no route takes.
 */
export const matchRoute = (
  method: string,
  segments: ReadonlyArray<string>,
): MatchedRoute | { readonly methodMismatch: true } | undefined => {
  let pathMatched = false
  for (const candidate of routes) {
    if (candidate.pattern.length !== segments.length) continue
    const params: Record<string, string> = {}
    const matches = candidate.pattern.every((part, i) => {
      const segment = segments[i] ?? ""
      if (part.startsWith(":")) {
        params[part.slice(1)] = segment
        return segment !== ""
      }
      return part === segment
    })
    if (!matches) continue
    pathMatched = true
    if (candidate.method === method) return { route: candidate, params }
  }
  return pathMatched ? { methodMismatch: true } : undefined
}
