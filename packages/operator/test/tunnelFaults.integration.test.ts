import type { FlyTunnelStatus } from "@fly-tunnel-operator/api"
import type { Fault } from "@fly-tunnel-operator/fly-emulator"
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest"
import { eventually, OperatorHarness, ResourceTypes } from "./support/operatorHarness.ts"

interface Tunnel {
  readonly metadata: { readonly uid: string }
  readonly status?: FlyTunnelStatus
}

describe("Tunnel controller under faults, crashes and drift", () => {
  const harness = new OperatorHarness({
    kubeconfigPath: inject("controlPlane").kubeconfigPath,
    tools: inject("tools"),
    machineRuntime: false,
    resync: "3 seconds",
  })

  const applyTunnel = (name: string, ports: ReadonlyArray<object> = [{ name: "http", port: 8080 }]) =>
    harness.applyManifest({
      apiVersion: "fly-tunnel-operator.dev/v1alpha1",
      kind: "FlyTunnel",
      metadata: { name, namespace: harness.namespace },
      spec: { target: { address: { host: "192.168.100.10" } }, ports, regions: ["ord"] },
    })

  const tunnel = (name: string) => harness.getJson<Tunnel>(ResourceTypes.FlyTunnel, name, harness.namespace)
  const readyTunnel = (name: string, check: (tunnel: Tunnel) => boolean = () => true) =>
    eventually(
      `FlyTunnel ${name} Ready`,
      async () => {
        const current = await tunnel(name)
        const ready = current?.status?.conditions?.find((condition) => condition.type === "Ready")
        return ready?.status === "True" && current !== undefined && check(current) ? current : undefined
      },
      120_000,
    )

  /** What "Fly" holds for a tunnel: its Apps, live Machines and IPs. */
  const flyResources = async (uid: string) => {
    const state = await harness.emulator.state()
    const apps = state.apps.filter((app) => app.name.endsWith(uid)).map((app) => app.name)
    return {
      state,
      apps,
      machines: state.machines.filter((machine) => apps.includes(machine.app) && machine.state !== "destroyed"),
      ips: state.ips.filter((ip) => apps.includes(ip.app)),
    }
  }

  const machinePublishes = (uid: string, port: number) =>
    eventually(`the Machine to publish ${port}`, async () => {
      const [machine] = (await flyResources(uid)).machines
      const services = (machine?.config as { services?: ReadonlyArray<{ internal_port: number }> } | undefined)
        ?.services
      return services?.some((service) => service.internal_port === port) ? true : undefined
    })

  const flyApi = (method: string, path: string) =>
    fetch(`${harness.emulator.baseUrl}/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${harness.emulator.token}` },
    })

  const deleteTunnel = async (name: string, uid: string) => {
    await harness.kubectl("delete", "flytunnel", name, "-n", harness.namespace, "--wait=true", "--timeout=120s")
    const left = await flyResources(uid)
    expect(left.apps).toEqual([])
  }

  beforeAll(async () => {
    await harness.start()
    harness.startOperator()
  })
  afterAll(() => harness.stop())

  for (const action of ["createApp", "setSecrets", "createMachine", "createIpAssignment", "updateMachine"] as const) {
    it(`killed right after ${action} (answer lost), a restarted operator converges without duplicates`, async () => {
      const name = `crash-${action.toLowerCase()}`
      const seen = (await harness.emulator.state()).calls.length
      await harness.emulator.injectFault({ action, kind: "lostResponse", count: 1 } as Fault)
      await applyTunnel(name)
      let converged = seen
      if (action === "updateMachine") {
        await readyTunnel(name)
        converged = (await harness.emulator.state()).calls.length
        await applyTunnel(name, [
          { name: "http", port: 8080 },
          { name: "extra", port: 9090 },
        ])
      }
      await eventually(`${action} applied`, async () =>
        (await harness.emulator.state()).calls.slice(seen).some((call) => call.action === action && call.applied)
          ? true
          : undefined,
      )
      await harness.stopOperator()
      harness.startOperator()
      const ready = await readyTunnel(name)
      if (action === "updateMachine") {
        // The update whose answer was lost is live: the one Machine publishes the new port and runs.
        await machinePublishes(ready.metadata.uid, 9090)
        const [machine] = (await flyResources(ready.metadata.uid)).machines
        expect(machine?.state).toBe("started")
        const updates = (await harness.emulator.state()).calls
          .slice(seen)
          .filter((call) => call.action === "updateMachine" && call.applied)
        expect(updates.length).toBeGreaterThanOrEqual(1)
        expect(
          (await harness.emulator.state()).calls.slice(converged).filter((call) => call.action === "createMachine"),
        ).toEqual([])
      }
      const fly = await flyResources(ready.metadata.uid)
      expect(fly.apps).toHaveLength(1)
      expect(fly.machines).toHaveLength(1)
      expect(fly.ips.map((ip) => ip.type).sort()).toEqual(["v4", "v6"])
      await deleteTunnel(name, ready.metadata.uid)
    })
  }

  it("converges through 5xx, 429 and timeouts without duplicates", async () => {
    const faults: ReadonlyArray<Fault> = [
      { action: "createApp", kind: "status", status: 503, count: 2 },
      { action: "listMachines", kind: "status", status: 429, count: 2 },
      { action: "createMachine", kind: "status", status: 500, count: 1 },
      { action: "createIpAssignment", kind: "timeout", holdMs: 200, applied: true, count: 1 },
      { action: "listIpAssignments", kind: "status", status: 502, count: 2 },
    ] as ReadonlyArray<Fault>
    for (const fault of faults) await harness.emulator.injectFault(fault)
    await applyTunnel("faults")
    const ready = await readyTunnel("faults")
    const fly = await flyResources(ready.metadata.uid)
    expect(fly.apps).toHaveLength(1)
    expect(fly.machines).toHaveLength(1)
    expect(fly.ips.map((ip) => ip.type).sort()).toEqual(["v4", "v6"])
    await harness.emulator.clearFaults()
    await deleteTunnel("faults", ready.metadata.uid)
  })

  it("repairs drift: a destroyed Machine, a released IPv4 and a deleted App", async () => {
    await applyTunnel("drift")
    const ready = await readyTunnel("drift")
    const address = ready.status?.addresses?.[0]?.ip
    const first = await flyResources(ready.metadata.uid)
    const app = first.apps[0] ?? ""
    const machine = first.machines[0]?.id ?? ""

    await flyApi("DELETE", `/apps/${app}/machines/${machine}?force=true`)
    const recreated = await eventually("a new Machine", async () => {
      const fly = await flyResources(ready.metadata.uid)
      return fly.machines.length === 1 && fly.machines[0]?.id !== machine ? fly : undefined
    })
    expect(recreated.ips.filter((ip) => ip.type === "v4").map((ip) => ip.ip)).toEqual([address])
    await readyTunnel("drift", (current) => current.status?.addresses?.[0]?.ip === address)

    await flyApi("DELETE", `/apps/${app}/ip_assignments/${address}`)
    const moved = await readyTunnel("drift", (current) => (current.status?.addresses?.[0]?.ip ?? address) !== address)
    const newAddress = moved.status?.addresses?.[0]?.ip ?? ""
    expect((await flyResources(ready.metadata.uid)).ips.filter((ip) => ip.type === "v4").map((ip) => ip.ip)).toEqual([
      newAddress,
    ])
    expect(await harness.frpcConfig(ready.metadata.uid, "ord")).toContain(newAddress)

    await flyApi("DELETE", `/apps/${app}?force=true`)
    await eventually("the App rebuilt", async () => {
      const fly = await flyResources(ready.metadata.uid)
      return fly.apps.length === 1 && fly.machines.length === 1 && fly.ips.length === 2 ? true : undefined
    })
    await readyTunnel("drift")
    await deleteTunnel("drift", ready.metadata.uid)
  })

  it("a port added updates the Machine in place: same Machine, same address, new frpc config", async () => {
    await applyTunnel("grow")
    const ready = await readyTunnel("grow")
    const before = await flyResources(ready.metadata.uid)
    await applyTunnel("grow", [
      { name: "http", port: 8080 },
      { name: "https", port: 8443, proxyProtocol: "v2" },
    ])
    await machinePublishes(ready.metadata.uid, 8443)
    const grown = await readyTunnel("grow")
    const after = await flyResources(ready.metadata.uid)
    expect(after.machines.map((machine) => machine.id)).toEqual(before.machines.map((machine) => machine.id))
    expect(grown.status?.addresses).toEqual(ready.status?.addresses)
    expect(await harness.frpcConfig(ready.metadata.uid, "ord")).toContain("remotePort = 8443")
    await deleteTunnel("grow", ready.metadata.uid)
  })

  it("keeps the frp token in Secrets only: not in Machine config, Events, ConfigMaps or logs", async () => {
    await applyTunnel("secret")
    const ready = await readyTunnel("secret")
    const encoded = await harness.kubectl(
      "get",
      "secret",
      `frpc-${ready.metadata.uid}`,
      "-n",
      harness.operatorNamespace,
      "-o",
      "jsonpath={.data.token}",
    )
    const token = Buffer.from(encoded.stdout, "base64").toString()
    expect(token).toMatch(/^[0-9a-f]{64}$/)
    const fly = await flyResources(ready.metadata.uid)
    expect(JSON.stringify(fly.machines)).not.toContain(token)
    expect(JSON.stringify(fly.state.calls)).not.toContain(token)
    const events = await harness.kubectl("get", "events", "-A", "-o", "json")
    expect(events.stdout).not.toContain(token)
    const configMaps = await harness.kubectl("get", "configmaps", "-A", "-o", "json")
    expect(configMaps.stdout).not.toContain(token)
    const deployment = await harness.kubectl(
      "get",
      "deployment",
      `frpc-${ready.metadata.uid}-ord`,
      "-n",
      harness.operatorNamespace,
      "-o",
      "json",
    )
    expect(deployment.stdout).not.toContain(token)
    expect(harness.logs.join("\n")).not.toContain(token)
    // frps gets it only as a Fly app secret (beside frps's certificate and key, and the cluster's mark, whose name
    // is all it carries).
    expect(fly.state.secrets.filter((secret) => fly.apps.includes(secret.app)).map((secret) => secret.name)).toEqual([
      "FRP_TOKEN",
      "FRPS_TLS_CERT",
      "FRPS_TLS_KEY",
      expect.stringMatching(/^FTO_CLUSTER_[0-9A-F]{32}$/),
    ])
    await deleteTunnel("secret", ready.metadata.uid)
  })
})
