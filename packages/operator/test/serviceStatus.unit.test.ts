import { type FlyTunnelStatus, type Reason, Reasons } from "@fly-tunnel-operator/api"
import type { V1Condition, V1Service } from "@kubernetes/client-node"
import { describe, expect, it } from "vitest"
import {
  invalidServiceStatus,
  type OwnedServiceStatus,
  ownedStatusOf,
  releasedServiceStatus,
  SERVICE_CONDITION,
  serviceStatusFor,
  tunnelFailure,
} from "../src/service/serviceStatus.ts"

const EARLIER = "2024-01-01T00:00:00Z"
const NOW = "2024-01-02T00:00:00Z"

const tunnelStatus = (
  ready: { readonly status: "True" | "False"; readonly reason: string; readonly message: string },
  address?: string,
): FlyTunnelStatus => ({
  conditions: [{ type: "Ready", lastTransitionTime: EARLIER, ...ready }],
  ...(address === undefined ? {} : { addresses: [{ ip: address, type: "v4" as const }] }),
})

const readyAt = (address: string) =>
  tunnelStatus({ status: "True", reason: Reasons.Ready, message: `tunnel carries traffic at ${address}` }, address)

const theirs: V1Condition = {
  type: "example.com/Other",
  status: "True",
  reason: "Fine",
  message: "someone else's",
  lastTransitionTime: new Date(EARLIER),
}

/** A Service whose status holds another writer's condition and what we applied (as the API server merges it). */
const service = (owned: OwnedServiceStatus = {}): V1Service => ({
  metadata: { name: "web", namespace: "default" },
  spec: { type: "LoadBalancer", loadBalancerClass: "fly-tunnel-operator.dev/lb" },
  status: {
    loadBalancer: owned.ingress === undefined ? {} : { ingress: [...owned.ingress] },
    conditions: [theirs, ...(owned.condition === undefined ? [] : [owned.condition])],
  },
})

const ours = (status: OwnedServiceStatus): V1Condition | undefined => status.condition

describe("serviceStatusFor", () => {
  it("publishes the address of a Ready tunnel as ingress with ipMode Proxy and a True condition", () => {
    const status = serviceStatusFor(service(), readyAt("203.0.113.7"), NOW)
    expect(status.ingress).toEqual([{ ip: "203.0.113.7", ipMode: "Proxy" }])
    expect(ours(status)).toEqual({
      type: SERVICE_CONDITION,
      status: "True",
      reason: Reasons.Ready,
      message: "public address 203.0.113.7",
      lastTransitionTime: new Date(NOW),
    })
  })

  it("publishes the IPv4 first, then the IPv6, and keeps only what was published while not Ready", () => {
    const both: FlyTunnelStatus = {
      ...readyAt("203.0.113.7"),
      addresses: [
        { ip: "2001:db8:f1e::7", type: "v6" },
        { ip: "203.0.113.7", type: "v4" },
      ],
    }
    const ready = serviceStatusFor(service(), both, NOW)
    expect(ready.ingress).toEqual([
      { ip: "203.0.113.7", ipMode: "Proxy" },
      { ip: "2001:db8:f1e::7", ipMode: "Proxy" },
    ])
    expect(ours(ready)?.message).toBe("public address 203.0.113.7, 2001:db8:f1e::7")
    // An IPv6 added while the tunnel is not Ready waits for Ready; the published IPv4 stays.
    const onlyV4 = serviceStatusFor(service(), readyAt("203.0.113.7"), EARLIER)
    const updating = serviceStatusFor(
      service(onlyV4),
      {
        ...both,
        conditions: [
          { type: "Ready", status: "False", reason: Reasons.Provisioning, message: "", lastTransitionTime: NOW },
        ],
      },
      NOW,
    )
    expect(updating.ingress).toEqual([{ ip: "203.0.113.7", ipMode: "Proxy" }])
  })

  it("does not publish an address before the tunnel is Ready", () => {
    const status = serviceStatusFor(
      service(),
      tunnelStatus(
        { status: "False", reason: Reasons.ClientDeploying, message: "waiting for the frpc Deployment to roll out" },
        "203.0.113.7",
      ),
      NOW,
    )
    expect(status.ingress).toBeUndefined()
    expect(ours(status)?.status).toBe("False")
  })

  it("keeps the ingress while the address stands, even when the tunnel is updating", () => {
    const published = serviceStatusFor(service(), readyAt("203.0.113.7"), EARLIER)
    const updating = serviceStatusFor(
      service(published),
      tunnelStatus(
        { status: "False", reason: Reasons.MachineCreating, message: "0 of 1 frps Machine(s) started" },
        "203.0.113.7",
      ),
      NOW,
    )
    expect(updating.ingress).toEqual([{ ip: "203.0.113.7", ipMode: "Proxy" }])
    expect(ours(updating)?.reason).toBe(Reasons.MachineCreating)
  })

  it("drops the ingress when the tunnel's address is another one and not Ready yet", () => {
    const published = serviceStatusFor(service(), readyAt("203.0.113.7"), EARLIER)
    const moved = serviceStatusFor(
      service(published),
      tunnelStatus({ status: "False", reason: Reasons.ClientDeploying, message: "rolling out" }, "198.51.100.9"),
      NOW,
    )
    expect(moved.ingress).toBeUndefined()
  })

  it("says it waits for provisioning while the tunnel has no status", () => {
    const status = serviceStatusFor(service(), undefined, NOW)
    expect(status.ingress).toBeUndefined()
    expect(ours(status)).toMatchObject({ status: "False", reason: Reasons.Provisioning })
    expect(ours(status)?.message).toMatch(/^waiting for the tunnel: /)
  })

  const actionable: ReadonlyArray<[Reason, RegExp]> = [
    [Reasons.FlyUnauthorized, /API token.*Secret/],
    [Reasons.FlyRateLimited, /rate limiting.*retries/],
    [Reasons.FlyCapacity, /another region with fly-tunnel-operator\.dev\/fly-regions/],
    [Reasons.FlyError, /retried/],
    [Reasons.AppNameTaken, /recreate the Service/],
    [Reasons.InvalidSpec, /ports and annotations/],
    [Reasons.TargetNotFound, /ClusterIP/],
    [Reasons.DeleteFailed, /fly-tunnel-operator\.dev\/force-delete=true/],
    [Reasons.MachineCreating, /frps Machine is being created/],
    [Reasons.ClientDeploying, /frpc is rolling out/],
  ]
  it.each(actionable)("words reason %s for the Service owner, followed by the tunnel's message", (reason, hint) => {
    const status = serviceStatusFor(
      service(),
      tunnelStatus({ status: "False", reason, message: "the tunnel's own words" }),
      NOW,
    )
    const condition = ours(status)
    expect(condition).toMatchObject({ status: "False", reason })
    expect(condition?.message).toMatch(hint)
    expect(condition?.message).toMatch(/^waiting for the tunnel: .+: the tunnel's own words$/)
  })

  it("gives every reason of the api package its own words", () => {
    const messages = Object.values(Reasons).map(
      (reason) =>
        ours(serviceStatusFor(service(), tunnelStatus({ status: "False", reason, message: "detail" }), NOW))?.message,
    )
    for (const message of messages) expect(message).toMatch(/^waiting for the tunnel: .+: detail$/)
    expect(new Set(messages).size).toBe(messages.length)
  })

  it("passes an unknown reason through with the tunnel's message", () => {
    const status = serviceStatusFor(
      service(),
      tunnelStatus({ status: "False", reason: "SomethingNew", message: "detail" }),
      NOW,
    )
    expect(ours(status)).toMatchObject({ reason: "SomethingNew", message: "waiting for the tunnel: detail" })
  })

  it("keeps the transition time while the condition's status stands, and moves it when the status flips", () => {
    const first = serviceStatusFor(
      service(),
      tunnelStatus({ status: "False", reason: Reasons.Provisioning, message: "creating the Fly App" }),
      EARLIER,
    )
    const stillWaiting = serviceStatusFor(
      service(first),
      tunnelStatus({ status: "False", reason: Reasons.ClientDeploying, message: "rolling out" }),
      NOW,
    )
    expect(ours(stillWaiting)).toMatchObject({
      reason: Reasons.ClientDeploying,
      lastTransitionTime: new Date(EARLIER),
    })
    const ready = serviceStatusFor(service(stillWaiting), readyAt("203.0.113.7"), NOW)
    expect(ours(ready)).toMatchObject({ status: "True", lastTransitionTime: new Date(NOW) })
  })

  it("owns only its own condition: another writer's is neither read as ours nor applied", () => {
    const status = serviceStatusFor(service(), readyAt("203.0.113.7"), NOW)
    expect(ours(status)?.type).toBe(SERVICE_CONDITION)
    expect(ownedStatusOf(service(status))).toEqual(status)
    expect(ownedStatusOf(service())).toEqual({})
  })
})

describe("invalidServiceStatus", () => {
  it("sets an InvalidSpec condition with the problem and keeps the published address", () => {
    const published = serviceStatusFor(service(), readyAt("203.0.113.7"), EARLIER)
    const message = 'fly-tunnel-operator.dev/fly-machine-size: "huge" is not allowed; use one of shared-cpu-1x'
    const status = invalidServiceStatus(service(published), message, NOW)
    expect(status.ingress).toEqual([{ ip: "203.0.113.7", ipMode: "Proxy" }])
    expect(ours(status)).toEqual({
      type: SERVICE_CONDITION,
      status: "False",
      reason: Reasons.InvalidSpec,
      message,
      lastTransitionTime: new Date(NOW),
    })
  })
})

describe("releasedServiceStatus", () => {
  it("owns nothing: applied, it removes our ingress and our condition and leaves the others'", () => {
    expect(releasedServiceStatus).toEqual({})
    expect(ownedStatusOf(service(releasedServiceStatus))).toEqual({})
  })
})

describe("tunnelFailure", () => {
  it("names a failing tunnel's reason with words the Service owner can act on", () => {
    expect(
      tunnelFailure(
        tunnelStatus({ status: "False", reason: Reasons.FlyCapacity, message: "Fly API createMachine failed: full" }),
      ),
    ).toEqual({
      reason: Reasons.FlyCapacity,
      message: expect.stringMatching(/another region.*: Fly API createMachine failed: full$/),
    })
  })

  it("is silent about progress and readiness", () => {
    for (const reason of [
      Reasons.Provisioning,
      Reasons.MachineCreating,
      Reasons.ClientDeploying,
      Reasons.AddressAllocated,
    ]) {
      expect(tunnelFailure(tunnelStatus({ status: "False", reason, message: "in progress" }))).toBeUndefined()
    }
    expect(tunnelFailure(readyAt("203.0.113.7"))).toBeUndefined()
    expect(tunnelFailure(undefined)).toBeUndefined()
  })
})
