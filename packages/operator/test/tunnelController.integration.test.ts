import type { FlyTunnelStatus } from "@fly-tunnel-operator/api"
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest"
import { eventually, OperatorHarness, ResourceTypes } from "./support/operatorHarness.ts"

interface Tunnel {
  readonly metadata: { readonly uid: string; readonly finalizers?: ReadonlyArray<string>; readonly generation: number }
  readonly status?: FlyTunnelStatus
}

const MUTATING = (call: { method: string }) => call.method !== "GET"

describe("Tunnel controller against the local control plane and the Fly emulator", () => {
  const harness = new OperatorHarness({
    kubeconfigPath: inject("controlPlane").kubeconfigPath,
    tools: inject("tools"),
    machineRuntime: false,
  })

  const applyTunnel = (name: string, spec: object) =>
    harness.applyManifest({
      apiVersion: "fly-tunnel-operator.dev/v1alpha1",
      kind: "FlyTunnel",
      metadata: { name, namespace: harness.namespace },
      spec,
    })

  const tunnel = (name: string) => harness.getJson<Tunnel>(ResourceTypes.FlyTunnel, name, harness.namespace)

  const readyTunnel = (name: string) =>
    eventually(
      `FlyTunnel ${name} Ready`,
      async () => {
        const current = await tunnel(name)
        const ready = current?.status?.conditions?.find((condition) => condition.type === "Ready")
        return ready?.status === "True" ? current : undefined
      },
      120_000,
    )

  const flyState = () => harness.emulator.state()

  beforeAll(async () => {
    await harness.start()
    harness.startOperator()
  })
  afterAll(() => harness.stop())

  it("provisions an address target to Ready with a public IPv4, then tears everything down", async () => {
    await applyTunnel("web", {
      target: { address: { host: "192.168.100.10" } },
      ports: [{ name: "http", port: 8080 }],
      regions: ["ord"],
    })
    const ready = await readyTunnel("web")
    const address = ready.status?.addresses?.[0]?.ip
    expect(address).toMatch(/^\d+\.\d+\.\d+\.\d+$/)
    expect(ready.status?.phase).toBe("Ready")
    expect(ready.metadata.finalizers).toContain("fly-tunnel-operator.dev/finalizer")
    const state = await flyState()
    const app = state.apps.find((candidate) => candidate.name.endsWith(ready.metadata.uid))
    expect(app).toBeDefined()
    expect(state.machines.filter((machine) => machine.app === app?.name && machine.state !== "destroyed")).toHaveLength(
      1,
    )
    expect(
      state.ips
        .filter((ip) => ip.app === app?.name)
        .map((ip) => ip.type)
        .sort(),
    ).toEqual(["v4", "v6"])

    await harness.kubectl("delete", "flytunnel", "web", "-n", harness.namespace, "--wait=true", "--timeout=120s")
    const after = await flyState()
    expect(after.apps.filter((candidate) => candidate.name === app?.name)).toHaveLength(0)
    expect(after.ips.filter((ip) => ip.app === app?.name)).toHaveLength(0)
    expect(after.machines.filter((machine) => machine.app === app?.name && machine.state !== "destroyed")).toHaveLength(
      0,
    )
    await eventually("frpc objects gone", async () => {
      const { stdout } = await harness.kubectl(
        "get",
        "deployments,secrets",
        "-n",
        harness.operatorNamespace,
        "-o",
        "name",
      )
      return stdout.includes(`frpc-${ready.metadata.uid}`) ? undefined : true
    })
  })

  it("runs one Machine and one frpc Deployment per region, each on its own control port", async () => {
    await applyTunnel("regions", {
      target: { address: { host: "192.168.100.10" } },
      ports: [{ name: "http", port: 7000 }],
      regions: ["ord", "ams"],
    })
    const ready = await readyTunnel("regions")
    const machines = ready.status?.machines ?? []
    expect(machines.map((machine) => machine.region).sort()).toEqual(["ams", "ord"])
    // 7000 is a tunnel port, so the control ports skip it.
    expect(machines.map((machine) => machine.controlPort).sort()).toEqual([7001, 7002])
    const { stdout } = await harness.kubectl("get", "deployments", "-n", harness.operatorNamespace, "-o", "name")
    expect(stdout).toContain(`frpc-${ready.metadata.uid}-ord`)
    expect(stdout).toContain(`frpc-${ready.metadata.uid}-ams`)
    await harness.kubectl("delete", "flytunnel", "regions", "-n", harness.namespace, "--wait=true", "--timeout=120s")
  })

  it("a restart of the operator on a converged tunnel makes no mutating Fly call", async () => {
    await applyTunnel("steady", {
      target: { address: { host: "192.168.100.10" } },
      ports: [{ name: "http", port: 8081 }],
      regions: ["ord"],
    })
    const steady = await readyTunnel("steady")
    await harness.stopOperator()
    const before = (await flyState()).calls.length
    harness.startOperator()
    // The restarted operator reconciles every tunnel once at start; wait for it to have read Fly.
    await eventually("the restarted operator to look at Fly", async () =>
      (await flyState()).calls.slice(before).some((call) => call.action === "listMachines") ? true : undefined,
    )
    await new Promise((resolve) => setTimeout(resolve, 3_000))
    // This tunnel's calls: another test's tunnel may still be waiting on Fly (a certificate it re-checks).
    const after = (await flyState()).calls.slice(before).filter((call) => call.app === steady.status?.app?.name)
    expect(after.filter((call) => call.action === "listMachines")).not.toEqual([])
    expect(after.filter(MUTATING)).toEqual([])
  })
})
