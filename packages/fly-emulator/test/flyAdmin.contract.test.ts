import { createRequire } from "node:module"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { eventually, type Harness, startHarness } from "./apiHarness.ts"

/**
 * The emulator driven by a third-party Fly client from the npm registry, fly-admin (Supabase's
 * TypeScript client of the Machines API), for the REST endpoints it covers. It sends its own
 * request shapes: `app_name` on create, a `{"signal": "SIGTERM"}` stop body, a JSON body on restart,
 * `timeout` without its "s" on wait, a `{"ttl", "description"}` lease body, `?kill=true` on delete.
 */
// fly-admin is CommonJS; required as Node requires it, whatever the test runner's ESM interop does.
const require = createRequire(import.meta.url)
const { default: FlyAdmin } = require("fly-admin/dist/client.js") as typeof import("fly-admin/dist/client.js")
const flyAdminTypes = require("fly-admin/dist/lib/types.js") as typeof import("fly-admin/dist/lib/types.js")

let harness: Harness
let fly: InstanceType<typeof FlyAdmin>
beforeAll(async () => {
  harness = await startHarness()
  fly = new FlyAdmin(harness.emulator.token, { apiUrl: harness.emulator.baseUrl })
})
afterAll(() => harness.emulator.close())

const { StateEnum } = flyAdminTypes
const config = {
  image: "registry.example/frps:v0.71.0",
  guest: { cpu_kind: "shared", cpus: 1, memory_mb: 256 },
  restart: { policy: flyAdminTypes.ApiMachineRestartPolicyEnum.Always },
  metadata: { owner: "fly-admin" },
  services: [{ protocol: "tcp", internal_port: 7000, ports: [{ port: 7000 }] }],
}

describe("fly-admin (npm) against the emulator", () => {
  it("apps: create with app_name, get, list, delete", async () => {
    const name = harness.appName("admin")
    await fly.App.createApp({ app_name: name, org_slug: "personal" })
    const app = await fly.App.getApp(name)
    expect(app).toMatchObject({ name, status: "pending", organization: { slug: "personal" } })
    const listed = await fly.App.listApps("personal")
    expect(listed.apps.map((entry) => entry.name)).toContain(name)
    await fly.App.deleteApp(name)
    await expect(fly.App.getApp(name)).rejects.toThrow(/^404: .*app not found/)
  })

  it("machines: create, wait, list, get, update, restart, stop, start, delete", async () => {
    const app_name = harness.appName("admin")
    await fly.App.createApp({ app_name, org_slug: "personal" })
    const created = await fly.Machine.createMachine({ app_name, name: "frps-0", region: "iad", config })
    expect(created).toMatchObject({ name: "frps-0", state: "created", region: "iad" })
    const machine_id = created.id
    expect(
      await fly.Machine.waitMachine({ app_name, machine_id, state: StateEnum.Started, timeout: "30s" }),
    ).toMatchObject({ ok: true })
    expect((await fly.Machine.listMachines(app_name)).map((machine) => machine.id)).toEqual([machine_id])
    const got = await fly.Machine.getMachine({ app_name, machine_id })
    expect(got).toMatchObject({ state: "started", host_status: "ok", config: { metadata: { owner: "fly-admin" } } })

    const updated = await fly.Machine.updateMachine({
      app_name,
      machine_id,
      config: { ...config, env: { LOG_LEVEL: "debug" } },
    })
    expect(updated.instance_id).not.toBe(created.instance_id)
    await fly.Machine.waitMachine({
      app_name,
      machine_id,
      instance_id: updated.instance_id,
      state: StateEnum.Started,
      timeout: "30s",
    })

    // fly-admin sends restart options as a body; the emulator (like Fly) reads them from the query only.
    expect(await fly.Machine.restartMachine({ app_name, machine_id, timeout: "5s" })).toEqual({ ok: true })
    await eventually(async () => {
      const machine = await fly.Machine.getMachine({ app_name, machine_id })
      return machine.state === "started" && machine.events[0]?.type === "start" ? true : undefined
    })

    expect(await fly.Machine.stopMachine({ app_name, machine_id })).toEqual({ ok: true })
    await fly.Machine.waitMachine({
      app_name,
      machine_id,
      instance_id: updated.instance_id,
      state: StateEnum.Stopped,
      timeout: "30s",
    })
    const stopped = await fly.Machine.getMachine({ app_name, machine_id })
    expect(stopped.events.slice(0, 2).map((event) => `${event.type}/${event.status}`)).toEqual([
      "exit/stopped",
      "stop/stopping",
    ])

    await fly.Machine.startMachine({ app_name, machine_id })
    await fly.Machine.waitMachine({ app_name, machine_id, state: StateEnum.Started, timeout: "30s" })
    expect(await fly.Machine.deleteMachine({ app_name, machine_id, force: true })).toEqual({ ok: true })
    await fly.Machine.waitMachine({ app_name, machine_id, state: StateEnum.Destroyed, timeout: "30s" })
    await fly.App.deleteApp(app_name)
  })

  it("leases: acquire with a ttl body, read it, and a write without the nonce is refused with 409", async () => {
    const app_name = harness.appName("admin")
    await fly.App.createApp({ app_name, org_slug: "personal" })
    const { id: machine_id } = await fly.Machine.createMachine({ app_name, region: "iad", config })
    await fly.Machine.waitMachine({ app_name, machine_id, state: StateEnum.Started, timeout: "30s" })
    const lease = await fly.Machine.acquireLease({ app_name, machine_id, ttl: 60, description: "fly-admin" })
    expect(lease).toMatchObject({ status: "success", data: { description: "fly-admin" } })
    expect(await fly.Machine.getLease({ app_name, machine_id })).toEqual(lease)
    await expect(fly.Machine.acquireLease({ app_name, machine_id, ttl: 60 })).rejects.toThrow(
      /^409: .*lease currently held/,
    )
    // fly-admin cannot send the nonce header, so its writes to a leased Machine are refused.
    await expect(fly.Machine.stopMachine({ app_name, machine_id })).rejects.toThrow(/^409: .*aborted: machine ID/)
    expect((await fly.Machine.getMachine({ app_name, machine_id })).state).toBe("started")
    await fly.App.deleteApp(app_name)
  })
})
