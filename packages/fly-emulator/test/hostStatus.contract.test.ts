import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { createApp, frpsMachine, type Harness, startedMachine, startHarness } from "./apiHarness.ts"

let harness: Harness
beforeAll(async () => {
  harness = await startHarness()
})
afterAll(() => harness.emulator.close())

const control = async (path: string, body: unknown) => {
  const response = await fetch(`${harness.emulator.baseUrl}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  })
  const answer = response.status === 204 ? undefined : ((await response.json()) as { error: string })
  return { status: response.status, body: answer }
}

const metadata = frpsMachine().config.metadata

describe("host status", () => {
  it("a Machine on an unreachable host comes back without config, in GET and in its owner's filtered list", async () => {
    const app = harness.appName()
    await createApp(harness, app)
    const machine = await startedMachine(harness, app)
    const other = await startedMachine(harness, app, frpsMachine({ config: { image: "frps", metadata: { k: "v" } } }))

    expect(
      (await control(`/_emulator/machines/${machine.id}/host-status`, { host_status: "unreachable" })).status,
    ).toBe(204)
    const got = await harness.call("GET", `/v1/apps/${app}/machines/${machine.id}`)
    expect(got.status).toBe(200)
    expect(got.body).not.toHaveProperty("config")
    expect(got.body.host_status).toBe("unreachable")
    // An object or absent (fly-go: *MachineConfig), never false; here the part Fly's API keeps itself.
    expect(got.body.incomplete_config).toEqual({ metadata })
    expect(got.body).toMatchObject({
      id: machine.id,
      state: "started",
      region: "iad",
      instance_id: machine.instance_id,
    })

    const filtered = await harness.call(
      "GET",
      `/v1/apps/${app}/machines?metadata.k8s-service=my-svc&metadata.k8s-namespace=default`,
    )
    expect(filtered.body.map((m: { id: string }) => m.id)).toEqual([machine.id])
    expect(filtered.body[0]).not.toHaveProperty("config")
    const all = await harness.call("GET", `/v1/apps/${app}/machines`)
    const healthy = all.body.find((m: { id: string }) => m.id === other.id)
    expect(healthy.config.metadata).toEqual({ k: "v" })
    expect(healthy.host_status).toBe("ok")

    // The emulator's own view keeps the config.
    const state = await harness.emulator.state()
    expect(state.machines.find((m) => m.id === machine.id)?.config.metadata).toEqual(metadata)

    await harness.emulator.setHostStatus(machine.id, "ok")
    const back = await harness.call("GET", `/v1/apps/${app}/machines/${machine.id}`)
    expect(back.body.config.metadata).toEqual(metadata)
    expect(back.body).not.toHaveProperty("incomplete_config")
    expect(back.body.host_status).toBe("ok")
  })

  it("answers `unknown` the same way, also in a summary list", async () => {
    const app = harness.appName()
    await createApp(harness, app)
    const machine = await startedMachine(harness, app)
    await harness.emulator.setHostStatus(machine.id, "unknown")
    const got = await harness.call("GET", `/v1/apps/${app}/machines/${machine.id}`)
    expect(got.body).not.toHaveProperty("config")
    expect(got.body.host_status).toBe("unknown")
    const summary = await harness.call("GET", `/v1/apps/${app}/machines?summary=true`)
    expect(summary.body[0]).not.toHaveProperty("config")
    expect(summary.body[0]).not.toHaveProperty("incomplete_config")
    expect(summary.body[0].host_status).toBe("unknown")
  })

  it("refuses an unknown status or Machine and changes nothing", async () => {
    const app = harness.appName()
    await createApp(harness, app)
    const machine = await startedMachine(harness, app)
    const bad = await control(`/_emulator/machines/${machine.id}/host-status`, { host_status: "down" })
    expect(bad.status).toBe(400)
    expect(bad.body?.error).toContain("host_status")
    expect((await control("/_emulator/machines/00000000000000/host-status", { host_status: "unknown" })).status).toBe(
      404,
    )
    await expect(harness.emulator.setHostStatus("00000000000000", "unknown")).rejects.toThrow(/no machine/)
    expect((await harness.call("GET", `/v1/apps/${app}/machines/${machine.id}`)).body.host_status).toBe("ok")
  })
})
