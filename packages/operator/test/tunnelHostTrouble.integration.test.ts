import type { FlyTunnelStatus } from "@fly-tunnel-operator/api"
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest"
import { eventually, OperatorHarness, ResourceTypes } from "./support/operatorHarness.ts"

interface Tunnel {
  readonly metadata: { readonly uid: string }
  readonly status?: FlyTunnelStatus
}

/**
 * Fly answers a Machine whose host is unreachable without its config. The operator must decode such a list, leave
 * that Machine alone (no update, no replacement, no delete) while the other Machines and tunnels go on, say which
 * Machine it is in MachinesReady, and converge once the host is back.
 */
describe("Tunnel controller when a Machine's host is unreachable", () => {
  const harness = new OperatorHarness({
    kubeconfigPath: inject("controlPlane").kubeconfigPath,
    tools: inject("tools"),
    machineRuntime: false,
    resync: "3 seconds",
  })

  const applyTunnel = (name: string, ports: ReadonlyArray<object>, regions: ReadonlyArray<string>) =>
    harness.applyManifest({
      apiVersion: "fly-tunnel-operator.dev/v1alpha1",
      kind: "FlyTunnel",
      metadata: { name, namespace: harness.namespace },
      spec: { target: { address: { host: "192.168.100.10" } }, ports, regions },
    })

  const tunnel = (name: string) => harness.getJson<Tunnel>(ResourceTypes.FlyTunnel, name, harness.namespace)
  const condition = (current: Tunnel | undefined, type: string) =>
    current?.status?.conditions?.find((entry) => entry.type === type)
  const readyTunnel = (name: string, check: (tunnel: Tunnel) => boolean = () => true) =>
    eventually(
      `FlyTunnel ${name} Ready`,
      async () => {
        const current = await tunnel(name)
        return condition(current, "Ready")?.status === "True" && current !== undefined && check(current)
          ? current
          : undefined
      },
      120_000,
    )

  /** The tunnel's live Machines in the emulator's own view (which keeps their config). */
  const machinesOf = async (uid: string) => {
    const state = await harness.emulator.state()
    return state.machines.filter((machine) => machine.app.endsWith(uid) && machine.state !== "destroyed")
  }
  const publishes = (machine: { config: Readonly<Record<string, unknown>> }, port: number) =>
    ((machine.config.services ?? []) as ReadonlyArray<{ internal_port: number }>).some(
      (service) => service.internal_port === port,
    )

  beforeAll(async () => {
    await harness.start()
    harness.startOperator()
  })
  afterAll(() => harness.stop())

  it("leaves that Machine untouched, names it in MachinesReady, serves the rest, and recovers", async () => {
    await applyTunnel("sick", [{ name: "http", port: 8080 }], ["ord", "fra"])
    const ready = await readyTunnel("sick")
    const uid = ready.metadata.uid
    const machines = await machinesOf(uid)
    expect(machines.map((machine) => machine.region).sort()).toEqual(["fra", "ord"])
    const sick = machines.find((machine) => machine.region === "ord")
    const well = machines.find((machine) => machine.region === "fra")
    if (sick === undefined || well === undefined) throw new Error("expected a Machine in ord and in fra")

    await harness.emulator.setHostStatus(sick.id, "unreachable")
    const seen = (await harness.emulator.state()).calls.length
    // A spec change that would update every Machine.
    await applyTunnel(
      "sick",
      [
        { name: "http", port: 8080 },
        { name: "extra", port: 9090 },
      ],
      ["ord", "fra"],
    )
    await eventually("the healthy Machine updated", async () => {
      const current = (await machinesOf(uid)).find((machine) => machine.id === well.id)
      return current !== undefined && publishes(current, 9090) ? true : undefined
    })
    const named = await eventually("MachinesReady names the Machine on the unreachable host", async () => {
      const current = await tunnel("sick")
      const machinesReady = condition(current, "MachinesReady")
      return machinesReady?.status === "False" && machinesReady.message.includes(sick.id) ? machinesReady : undefined
    })
    expect(named.message).toContain("unreachable")
    expect(named.message).toContain("(ord)")
    expect(condition(await tunnel("sick"), "Ready")?.status).toBe("False")

    // Another tunnel is not held up meanwhile.
    await applyTunnel("bystander", [{ name: "http", port: 8081 }], ["ord"])
    const bystander = await readyTunnel("bystander")

    // Several reconciles later (resync 3 s, progress requeues 2 s), not one write touched the unreachable Machine
    // and nothing replaced it.
    await eventually("more reconciles of the tunnel", async () => {
      const calls = (await harness.emulator.state()).calls.slice(seen)
      const lists = calls.filter((call) => call.action === "listMachines" && call.app === sick.app)
      return lists.length >= 3 ? true : undefined
    })
    const during = (await harness.emulator.state()).calls.slice(seen)
    expect(during.filter((call) => call.machineId === sick.id && call.method !== "GET")).toEqual([])
    expect(during.filter((call) => call.app === sick.app && call.action === "createMachine")).toEqual([])
    expect(during.filter((call) => call.action === "updateMachine" && call.machineId === well.id).length).toBe(1)
    expect((await machinesOf(uid)).map((machine) => machine.id).sort()).toEqual([sick.id, well.id].sort())

    // The host is back: the Machine gets the change it missed and the tunnel is Ready again.
    const back = (await harness.emulator.state()).calls.length
    await harness.emulator.setHostStatus(sick.id, "ok")
    await readyTunnel("sick", (current) => condition(current, "MachinesReady")?.status === "True")
    const recovered = (await machinesOf(uid)).find((machine) => machine.id === sick.id)
    expect(recovered !== undefined && publishes(recovered, 9090)).toBe(true)
    const after = (await harness.emulator.state()).calls.slice(back)
    expect(after.filter((call) => call.action === "updateMachine" && call.machineId === sick.id).length).toBe(1)
    expect(after.filter((call) => call.app === sick.app && call.action === "createMachine")).toEqual([])

    for (const name of ["sick", "bystander"])
      await harness.kubectl("delete", "flytunnel", name, "-n", harness.namespace, "--wait=true", "--timeout=120s")
    expect(await machinesOf(uid)).toEqual([])
    expect(await machinesOf(bystander.metadata.uid)).toEqual([])
  })
})
