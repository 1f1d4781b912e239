import { type FlyTunnelSpecInput, Labels } from "@fly-tunnel-operator/api"
import { Effect } from "effect"
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import { FieldManager, KubeClient } from "../src/kube/kubeClient.ts"
import { Deployment, FlyTunnel, type FlyTunnelObject } from "../src/kube/resourceType.ts"
import { SPEC_HASH_ANNOTATION } from "../src/tunnel/frpcDeployment.ts"
import { type FastOperator, OPERATOR_NAMESPACE, startFastOperator, until } from "./support/fastHarness.ts"

const spec = (regions: ReadonlyArray<string>, ports = [{ name: "http", port: 8080 }]): FlyTunnelSpecInput => ({
  target: { address: { host: "192.168.2.10" } },
  ports,
  regions: [...regions],
})

/**
 * Nothing half-made, drift repaired, rollouts bounded — decided by the controllers against the in-memory API server
 * and the emulator in-process, proven from the emulator's call log.
 */
describe("regions, capacity, drift and rollouts (fast tier)", () => {
  let operator: FastOperator
  const asUser = <A, E>(effect: Effect.Effect<A, E, KubeClient>) =>
    operator.run(effect.pipe(Effect.provideService(FieldManager, "test")))
  const applyTunnel = (name: string, tunnelSpec: FlyTunnelSpecInput) =>
    asUser(
      KubeClient.use((kube) =>
        kube.apply(FlyTunnel, { metadata: { name, namespace: "default" }, spec: tunnelSpec } satisfies FlyTunnelObject),
      ),
    )
  const tunnel = (name: string) =>
    operator.kube.objects(FlyTunnel, "default").find((item) => item.metadata?.name === name)
  const condition = (name: string, type: string) => tunnel(name)?.status?.conditions?.find((item) => item.type === type)
  const ready = (name: string) =>
    until(`${name} Ready`, () => (condition(name, "Ready")?.status === "True" ? tunnel(name) : undefined))
  const fly = async (app: string) => {
    const state = await operator.emulator.state()
    return {
      state,
      machines: state.machines.filter((machine) => machine.app === app && machine.state !== "destroyed"),
    }
  }
  const flyCall = (method: string, path: string, body?: object) =>
    fetch(`${operator.emulator.baseUrl}/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${operator.emulator.token}`, "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    })
  const since = async (count: number) => (await operator.emulator.state()).calls.slice(count)
  const callCount = async () => (await operator.emulator.state()).calls.length

  beforeAll(async () => {
    operator = await startFastOperator({ resync: "300 millis", rolloutsAtOnce: 1 })
    operator.startControllers()
  })
  afterAll(() => operator.close())
  afterEach(() => operator.emulator.clearFaults())

  it("refuses a region Fly does not have, naming it, before anything is created", async () => {
    const before = await callCount()
    await applyTunnel("nowhere", spec(["ord", "xyz"]))
    const refused = await until("InvalidSpec", () =>
      condition("nowhere", "Ready")?.reason === "InvalidSpec" ? condition("nowhere", "Ready") : undefined,
    )
    expect(refused?.message).toMatch(/spec\.regions: "xyz" is not a region Fly offers/)
    expect(tunnel("nowhere")?.status?.phase).toBe("Failed")
    await new Promise((resolve) => setTimeout(resolve, 600))
    expect((await since(before)).filter((call) => call.method !== "GET")).toEqual([])
  })

  it("waits minutes when Fly has no capacity, keeps the IPv4, and says what it costs", async () => {
    await operator.emulator.injectFault({
      action: "createMachine",
      kind: "status",
      status: 503,
      body: { error: "out of capacity", status: "insufficient_capacity" },
      rate: 1,
    })
    const before = await callCount()
    await applyTunnel("full", spec(["ams"]))
    const waiting = await until("FlyCapacity", () =>
      condition("full", "MachinesReady")?.reason === "FlyCapacity" ? condition("full", "MachinesReady") : undefined,
    )
    // Several resyncs later: still the one attempt, and the address stays.
    await new Promise((resolve) => setTimeout(resolve, 1_500))
    const calls = await since(before)
    expect(calls.filter((call) => call.action === "createMachine")).toHaveLength(1)
    expect(
      calls.filter((call) => call.action === "createIpAssignment" && call.ipType === "v4" && call.applied),
    ).toHaveLength(1)
    expect(calls.filter((call) => call.action === "deleteIpAssignment")).toEqual([])
    const message = condition("full", "MachinesReady")?.message ?? waiting?.message
    expect(message).toMatch(
      /^Fly API createMachine failed: .*out of capacity.*; the dedicated IPv4 [\d.]+ is kept for it \(\$2\/month\) while it waits/,
    )
    expect(message).toMatch(/next try in (2\d|30)s/)
  })

  it("starts a Machine stopped behind its back, and puts back a config changed out of band", async () => {
    await applyTunnel("drift", spec(["ord"]))
    const app = (await ready("drift"))?.status?.app?.name ?? ""
    const [machine] = (await fly(app)).machines
    const path = `/apps/${app}/machines/${machine?.id}`
    const before = await callCount()
    expect((await flyCall("POST", `${path}/stop`, {})).status).toBe(200)
    await until("started again", async () => ((await fly(app)).machines[0]?.state === "started" ? true : undefined))
    expect((await since(before)).filter((call) => call.action === "startMachine" && call.applied)).toHaveLength(1)

    // Same metadata (so the same config hash), one service gone: drift only a comparison of the content can see.
    const live = (await fly(app)).machines[0]?.config as { services?: ReadonlyArray<unknown> } | undefined
    const changed = await flyCall("POST", path, { config: { ...live, services: live?.services?.slice(0, 1) } })
    expect(changed.status).toBe(200)
    const restored = await until("the config put back", async () => {
      const config = (await fly(app)).machines[0]?.config as { services?: ReadonlyArray<unknown> } | undefined
      return (config?.services?.length ?? 0) === (live?.services?.length ?? -1) ? true : undefined
    })
    expect(restored).toBe(true)
  })

  it("after an App is rebuilt, a converged tunnel costs no mutating call", async () => {
    await applyTunnel("rebuilt", spec(["ord"]))
    const first = await ready("rebuilt")
    const app = first?.status?.app?.name ?? ""
    expect((await flyCall("DELETE", `/apps/${app}?force=true`)).status).toBe(202)
    await until("rebuilt and Ready", async () =>
      (await fly(app)).machines.length === 1 && condition("rebuilt", "Ready")?.status === "True" ? true : undefined,
    )
    await new Promise((resolve) => setTimeout(resolve, 500))
    const before = await callCount()
    await new Promise((resolve) => setTimeout(resolve, 1_200))
    expect((await since(before)).filter((call) => call.method !== "GET")).toEqual([])
  })

  it("rolls a change one region at a time, and one tunnel at a time when only one may roll", async () => {
    const regions = ["ord", "ams", "fra"]
    await applyTunnel("roll-a", spec(regions))
    await applyTunnel("roll-b", spec(regions))
    const a = (await ready("roll-a"))?.status?.app?.name ?? ""
    const b = (await ready("roll-b"))?.status?.app?.name ?? ""
    const before = await callCount()
    const twoPorts = [
      { name: "http", port: 8080 },
      { name: "extra", port: 9090 },
    ]
    await applyTunnel("roll-a", spec(regions, twoPorts))
    await applyTunnel("roll-b", spec(regions, twoPorts))
    await until(
      "both rolled",
      () =>
        condition("roll-a", "Ready")?.status === "True" &&
        condition("roll-b", "Ready")?.status === "True" &&
        tunnel("roll-a")?.status?.observedGeneration === tunnel("roll-a")?.metadata?.generation &&
        tunnel("roll-b")?.status?.observedGeneration === tunnel("roll-b")?.metadata?.generation &&
        tunnel("roll-a")?.status?.machines?.every((machine) => machine.upToDate) &&
        tunnel("roll-b")?.status?.machines?.every((machine) => machine.upToDate)
          ? true
          : undefined,
      15_000,
    )
    const updates = (await since(before)).filter((call) => call.action === "updateMachine" && call.applied)
    expect(updates).toHaveLength(regions.length * 2)
    // One tunnel's three updates, then the other's: never interleaved, since one tunnel may roll at a time.
    const order = updates.map((call) => call.app)
    const firstApp = order[0]
    expect(order).toEqual([...Array(3).fill(firstApp), ...Array(3).fill(firstApp === a ? b : a)])
    // Within a tunnel, one region per pass: a list of its Machines comes between two of its updates.
    const calls = await since(before)
    for (const app of [a, b]) {
      const indexes = calls.flatMap((call, index) =>
        call.action === "updateMachine" && call.applied && call.app === app ? [index] : [],
      )
      for (let i = 1; i < indexes.length; i++) {
        const between = calls.slice(indexes[i - 1], indexes[i])
        expect(between.some((call) => call.action === "listMachines" && call.app === app)).toBe(true)
      }
    }
  })
  it("changes each frpc only once its Machine runs the new config and is started, never ahead of it", async () => {
    const regions = ["ord", "ams"]
    await applyTunnel("follow", spec(regions))
    const converged = await ready("follow")
    const uid = converged?.metadata?.uid ?? ""
    const app = converged?.status?.app?.name ?? ""
    const frpc = () =>
      operator.kube
        .objects(Deployment, OPERATOR_NAMESPACE)
        .filter((deployment) => deployment.metadata?.labels?.[Labels.tunnelUid] === uid)
    const hashOf = (deployment: ReturnType<typeof frpc>[number]) =>
      deployment.metadata?.annotations?.[SPEC_HASH_ANNOTATION]
    const before = new Map(frpc().map((deployment) => [deployment.metadata?.name ?? "", hashOf(deployment)]))
    expect(before.size).toBe(regions.length)
    // Updates answered late, as on Fly: an frpc changed beside the rollout would be out while its Machine is not.
    await operator.emulator.setLatency({ updateMachine: { ms: 300 } })
    // A new port: every Machine's config and every frpc's config change (frpc registers the new port with its frps).
    await applyTunnel(
      "follow",
      spec(regions, [
        { name: "http", port: 8080 },
        { name: "extra", port: 9090 },
      ]),
    )
    // When each frpc is first seen changed: its Machine at that moment.
    const seen = new Map<string, { state: string; servesNewPort: boolean }>()
    await until(
      "every frpc changed",
      async () => {
        const changed = frpc().filter(
          (deployment) => hashOf(deployment) !== before.get(deployment.metadata?.name ?? ""),
        )
        const fresh = changed.filter((deployment) => !seen.has(deployment.metadata?.name ?? ""))
        if (fresh.length > 0) {
          const { machines } = await fly(app)
          for (const deployment of fresh) {
            const name = deployment.metadata?.name ?? ""
            const machine = machines.find(
              (candidate) => `frpc-${uid}-${candidate.name?.replace(/^frps-/, "")}` === name,
            )
            seen.set(name, {
              state: machine?.state ?? "absent",
              servesNewPort: JSON.stringify(machine?.config?.services ?? []).includes('"port":9090'),
            })
          }
        }
        return seen.size === regions.length ? true : undefined
      },
      15_000,
    )
    await operator.emulator.setLatency({ updateMachine: null })
    expect([...seen.values()]).toEqual(regions.map(() => ({ state: "started", servesNewPort: true })))
    await until("rolled out", () =>
      condition("follow", "Ready")?.status === "True" &&
      tunnel("follow")?.status?.machines?.every((machine) => machine.upToDate)
        ? true
        : undefined,
    )
  })
  it("adds a region without moving a Machine's control port, so no two Machines ever serve one", async () => {
    const ports = [
      { name: "http", port: 8080 },
      { name: "dns", port: 5353, protocol: "UDP" as const },
    ]
    await applyTunnel("grow", spec(["ord"], ports))
    const app = (await ready("grow"))?.status?.app?.name ?? ""
    const controlPort = (machine: { config?: { services?: ReadonlyArray<{ internal_port?: number }> } }) =>
      machine.config?.services?.[0]?.internal_port
    const portsBefore = new Map((await fly(app)).machines.map((machine) => [machine.id, controlPort(machine)]))
    expect(portsBefore.size).toBe(2)
    const before = await callCount()
    await applyTunnel("grow", spec(["ord", "ams"], ports))
    // Sampled while the new region comes up: the App's Machines serve distinct control ports at every moment.
    await until(
      "ams added",
      async () => {
        const { machines } = await fly(app)
        const served = machines.map(controlPort)
        expect(new Set(served).size).toBe(served.length)
        return machines.length === 4 &&
          condition("grow", "Ready")?.status === "True" &&
          tunnel("grow")?.status?.observedGeneration === tunnel("grow")?.metadata?.generation &&
          tunnel("grow")?.status?.machines?.every((machine) => machine.upToDate)
          ? true
          : undefined
      },
      15_000,
    )
    const { machines } = await fly(app)
    for (const [id, port] of portsBefore)
      expect(controlPort(machines.find((machine) => machine.id === id) ?? {})).toBe(port)
    const calls = await since(before)
    // The Machines that were there are not touched: two creates (ams, ams-udp), no update.
    expect(calls.filter((call) => call.action === "updateMachine")).toEqual([])
    expect(calls.filter((call) => call.action === "createMachine" && call.applied)).toHaveLength(2)
  })
})
