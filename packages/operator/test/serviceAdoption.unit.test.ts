import { Annotations, GoOperatorAnnotations } from "@fly-tunnel-operator/api"
import type { V1Service } from "@kubernetes/client-node"
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import type { FlyTunnelObject } from "../src/kube/resourceType.ts"
import { adoptInputFor, adoptionWanted, notAdopted } from "../src/service/serviceAdoption.ts"
import { describeProblem, tunnelSpecFromService } from "../src/service/serviceTunnelSpec.ts"

const goState = {
  [GoOperatorAnnotations.flyApp]: "fly-tunnel-default-web-personal",
  [GoOperatorAnnotations.publicIp]: "203.0.113.7",
  [GoOperatorAnnotations.machineId]: "3d8d9e1b0e7e89",
  [GoOperatorAnnotations.ipId]: "ip_1a2b3c",
  [GoOperatorAnnotations.frpcDeployment]: "frpc-default-web",
}

const service = (annotations: Record<string, string>): V1Service => ({
  metadata: { name: "web", namespace: "default", annotations },
  spec: {
    type: "LoadBalancer",
    loadBalancerClass: "fly-tunnel-operator.dev/lb",
    ports: [{ name: "http", port: 80, protocol: "TCP" }],
  },
})

const tunnel = (spec: object): FlyTunnelObject => ({ metadata: { name: "web", namespace: "default" }, spec })

describe("which App a Service's tunnel adopts", () => {
  it("the annotation wins over the install's setting; anything but true or false names the annotation", () => {
    expect(adoptionWanted(service({}), false)).toEqual(Result.succeed(false))
    expect(adoptionWanted(service({}), true)).toEqual(Result.succeed(true))
    expect(adoptionWanted(service({ [Annotations.adopt]: "true" }), false)).toEqual(Result.succeed(true))
    expect(adoptionWanted(service({ [Annotations.adopt]: "false" }), true)).toEqual(Result.succeed(false))
    const refused = adoptionWanted(service({ [Annotations.adopt]: "yes" }), true)
    expect(Result.isFailure(refused) && describeProblem(refused.failure)).toBe(
      'fly-tunnel-operator.dev/adopt: "yes" is not allowed: expected "true" or "false"',
    )
  })

  it("a new tunnel adopts the named App only when opted in; an existing tunnel keeps its own spec.adopt", () => {
    const named = { app: "fly-tunnel-default-web-personal", ipv4: "203.0.113.7" }
    expect(adoptInputFor(service(goState), undefined, true)).toEqual(named)
    expect(adoptInputFor(service(goState), undefined, false)).toBeUndefined()
    expect(adoptInputFor(service({}), undefined, true)).toBeUndefined()
    // Only one of the two: nothing to adopt.
    expect(adoptInputFor(service({ [GoOperatorAnnotations.flyApp]: named.app }), undefined, true)).toBeUndefined()
    expect(adoptInputFor(service(goState), tunnel({ ports: [] }), true)).toBeUndefined()
    const adopting = tunnel({ adopt: { app: "fto-web-old", ipv4: "203.0.113.9" } })
    expect(adoptInputFor(service(goState), adopting, false)).toEqual({ app: "fto-web-old", ipv4: "203.0.113.9" })
  })

  it("names the Go operator's App as not adopted unless the tunnel adopts that very App", () => {
    expect(notAdopted(service(goState), undefined)).toEqual({
      app: "fly-tunnel-default-web-personal",
      ipv4: "203.0.113.7",
    })
    expect(notAdopted(service(goState), tunnel({}))).toBeDefined()
    expect(
      notAdopted(service(goState), tunnel({ adopt: { app: "fly-tunnel-default-web-personal", ipv4: "203.0.113.7" } })),
    ).toBeUndefined()
    expect(notAdopted(service({}), undefined)).toBeUndefined()
  })

  it("a bad public-ip or fly-app is reported under its annotation", () => {
    const result = tunnelSpecFromService(
      service({}),
      { region: "ord", machineSize: "shared-cpu-1x" },
      { app: "Fly_App", ipv4: "not-an-ip" },
    )
    const problems = Result.isFailure(result) ? result.failure.map((problem) => problem.field).sort() : []
    expect(problems).toEqual([GoOperatorAnnotations.flyApp, GoOperatorAnnotations.publicIp].sort())
  })
})
