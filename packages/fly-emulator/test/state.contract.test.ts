import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { createApp, eventually, frpsMachine, type Harness, startedMachine, startHarness } from "./apiHarness.ts"
import { recordingHost } from "./apiRecordingHost.ts"

const recorder = recordingHost()
let harness: Harness
beforeAll(async () => {
  harness = await startHarness({ machineHost: recorder.host, timings: { destroyedRetentionMs: 600_000 } })
})
afterAll(() => harness.emulator.close())

const machinePath = (app: string, id: string) => `/v1/apps/${app}/machines/${id}`

const stateOf = async (app: string, id: string) => (await harness.call("GET", machinePath(app, id))).body

/** Polls until the machine is in `state`. */
const reaches = (app: string, id: string, state: string) =>
  eventually(async () => {
    const machine = await stateOf(app, id)
    return machine.state === state ? machine : undefined
  })

describe("machine state machine", () => {
  it("starts a created machine asynchronously, with app secrets in its env", async () => {
    const app = harness.appName()
    await createApp(harness, app)
    await harness.call("POST", `/v1/apps/${app}/secrets`, { values: { FRP_TOKEN: "t0k", FRPS_LOG_LEVEL: "debug" } })
    const created = await harness.call("POST", `/v1/apps/${app}/machines`, {
      ...frpsMachine(),
      config: { ...frpsMachine().config, env: { FRPS_LOG_LEVEL: "info" } },
    })
    expect(created.body.state).toBe("created")
    await reaches(app, created.body.id, "started")
    const spec = recorder.starts.find((start) => start.id === created.body.id)
    expect(spec?.env).toEqual({ FRP_TOKEN: "t0k", FRPS_LOG_LEVEL: "info" })
    expect(spec?.secrets).toEqual({ FRP_TOKEN: "t0k", FRPS_LOG_LEVEL: "debug" })
    expect((await harness.call("GET", `/v1/apps/${app}`)).body.status).toBe("deployed")
  })

  it("leaves a skip_launch machine created until started", async () => {
    const app = harness.appName()
    await createApp(harness, app)
    const created = await harness.call("POST", `/v1/apps/${app}/machines`, frpsMachine({ skip_launch: true }))
    const timedOut = await harness.call("GET", `${machinePath(app, created.body.id)}/wait?state=started&timeout=1`)
    expect(timedOut.status).toBe(408)
    expect((await stateOf(app, created.body.id)).state).toBe("created")
    const started = await harness.call("POST", `${machinePath(app, created.body.id)}/start`)
    expect(started.status).toBe(200)
    expect(started.body).toEqual({ previous_state: "created", migrated: false, new_host: "" })
    await reaches(app, created.body.id, "started")
  })

  it("stops and starts again", async () => {
    const app = harness.appName()
    await createApp(harness, app)
    const machine = await startedMachine(harness, app)
    const stopped = await harness.call("POST", `${machinePath(app, machine.id)}/stop`, {
      signal: "SIGTERM",
      timeout: "5s",
    })
    expect(stopped.status).toBe(200)
    await reaches(app, machine.id, "stopped")
    expect(recorder.stops).toContain(machine.id)
    const started = await harness.call("POST", `${machinePath(app, machine.id)}/start`)
    expect(started.body.previous_state).toBe("stopped")
    await reaches(app, machine.id, "started")
    const badBody = await harness.call("POST", `${machinePath(app, machine.id)}/stop`, [])
    expect(badBody.status).toBe(400)
  })

  it("updates a started machine: new instance_id, replacing, then started again; start meanwhile is 412", async () => {
    const app = harness.appName()
    await createApp(harness, app)
    const machine = await startedMachine(harness, app)
    recorder.holdStops()
    const request = frpsMachine({ current_version: machine.instance_id })
    const updated = await harness.call("POST", machinePath(app, machine.id), request)
    expect(updated.status).toBe(200)
    expect(updated.body.state).toBe("replacing")
    expect(updated.body.instance_id).not.toBe(machine.instance_id)
    expect(updated.body.events[0]).toMatchObject({ type: "update", status: "replacing", source: "user" })

    const duringReplace = await harness.call("POST", `${machinePath(app, machine.id)}/start`)
    expect(duringReplace.status).toBe(412)
    expect(duringReplace.body).toEqual({ error: "unable to start machine from current state" })
    expect((await harness.call("POST", `${machinePath(app, machine.id)}/stop`)).status).toBe(412)
    recorder.releaseStops()

    const after = await reaches(app, machine.id, "started")
    expect(after.instance_id).toBe(updated.body.instance_id)
    const waited = await harness.call(
      "GET",
      `${machinePath(app, machine.id)}/wait?state=started&version=${updated.body.instance_id}&timeout=5`,
    )
    expect(waited.body).toMatchObject({ ok: true, state: "started", version: updated.body.instance_id })
  })

  it("keeps a stopped machine stopped through an update", async () => {
    const app = harness.appName()
    await createApp(harness, app)
    const machine = await startedMachine(harness, app)
    await harness.call("POST", `${machinePath(app, machine.id)}/stop`)
    await reaches(app, machine.id, "stopped")
    const startsBefore = recorder.starts.filter((start) => start.id === machine.id).length
    const updated = await harness.call("POST", machinePath(app, machine.id), frpsMachine())
    expect(updated.status).toBe(200)
    const settled = await eventually(async () => {
      const current = await stateOf(app, machine.id)
      return current.state === "replacing" ? undefined : current
    })
    expect(settled.state).toBe("stopped")
    expect(recorder.starts.filter((start) => start.id === machine.id).length).toBe(startsBefore)
  })

  it("refuses a stale current_version with 412 and a region or name change with 400", async () => {
    const app = harness.appName()
    await createApp(harness, app)
    const machine = await startedMachine(harness, app)
    const stale = await harness.call(
      "POST",
      machinePath(app, machine.id),
      frpsMachine({ current_version: "01HQ73A7BFFDF1B6WMGHFZZ4E7" }),
    )
    expect(stale.status).toBe(412)
    expect(typeof stale.body.error).toBe("string")
    expect((await harness.call("POST", machinePath(app, machine.id), frpsMachine({ region: "fra" }))).status).toBe(400)
    expect((await harness.call("POST", machinePath(app, machine.id), frpsMachine({ name: "renamed" }))).status).toBe(
      400,
    )
  })

  it("deletes: 412 without force while started, destroyed visible after force, include_deleted lists it", async () => {
    const app = harness.appName()
    await createApp(harness, app)
    const machine = await startedMachine(harness, app)
    const refused = await harness.call("DELETE", machinePath(app, machine.id))
    expect(refused.status).toBe(412)
    expect(refused.body).toEqual({ error: "unable to destroy machine, not currently stopped or suspended" })
    const forced = await harness.call("DELETE", `${machinePath(app, machine.id)}?kill=true`)
    expect(forced.status).toBe(200)
    const waited = await harness.call("GET", `${machinePath(app, machine.id)}/wait?state=destroyed&timeout=10`)
    expect(waited.body.state).toBe("destroyed")
    const destroyed = await stateOf(app, machine.id)
    expect(destroyed.state).toBe("destroyed")
    expect(destroyed.events[0]).toMatchObject({ type: "destroy", status: "destroyed" })
    expect((await harness.call("GET", `/v1/apps/${app}/machines`)).body).toEqual([])
    expect((await harness.call("DELETE", `${machinePath(app, machine.id)}?force=true`)).status).toBe(404)
  })

  it("deletes a stopped machine without force", async () => {
    const app = harness.appName()
    await createApp(harness, app)
    const created = await harness.call("POST", `/v1/apps/${app}/machines`, frpsMachine({ skip_launch: true }))
    expect((await harness.call("DELETE", machinePath(app, created.body.id))).status).toBe(200)
    await reaches(app, created.body.id, "destroyed")
  })
})

describe("restart policy", () => {
  const exitedMachine = async (restart: Record<string, unknown>, exitCodes: ReadonlyArray<number>) => {
    const app = harness.appName()
    await createApp(harness, app)
    const request = frpsMachine()
    const machine = await startedMachine(harness, app, { ...request, config: { ...request.config, restart } })
    for (const code of exitCodes) {
      await reaches(app, machine.id, "started")
      recorder.exit(machine.id, code)
    }
    const settled = await eventually(async () => {
      const current = await stateOf(app, machine.id)
      return current.state === "starting" ? undefined : current
    })
    return { settled, starts: recorder.starts.filter((start) => start.id === machine.id).length }
  }

  it("no: an exit stops the machine", async () => {
    const { settled, starts } = await exitedMachine({ policy: "no" }, [0])
    expect(settled.state).toBe("stopped")
    expect(settled.events[0]).toMatchObject({ type: "exit", status: "stopped", source: "flyd" })
    expect(starts).toBe(1)
  })

  it("always: even a clean exit restarts", async () => {
    const { settled, starts } = await exitedMachine({ policy: "always" }, [0, 0])
    expect(settled.state).toBe("started")
    expect(starts).toBe(3)
  })

  it("on-failure: restarts failed exits up to max_retries, not clean ones", async () => {
    const failing = await exitedMachine({ policy: "on-failure", max_retries: 1 }, [1, 1])
    expect(failing.settled.state).toBe("stopped")
    expect(failing.starts).toBe(2)
    const clean = await exitedMachine({ policy: "on-failure" }, [0])
    expect(clean.settled.state).toBe("stopped")
    expect(clean.starts).toBe(1)
  })
})

describe("machine events as Fly sends them", () => {
  const exitEventShape = {
    exit_code: expect.any(Number),
    guest_exit_code: expect.any(Number),
    guest_signal: expect.any(Number),
    signal: expect.any(Number),
    oom_killed: false,
    requested_stop: expect.any(Boolean),
    restarting: expect.any(Boolean),
  }

  it("an exit event has fly-go's types: ints for codes and signals (-1 for none), booleans, no exited_at", async () => {
    const app = harness.appName()
    await createApp(harness, app)
    const request = frpsMachine()
    const machine = await startedMachine(harness, app, {
      ...request,
      config: { ...request.config, restart: { policy: "no" } },
    })
    recorder.exit(machine.id, 3)
    const stopped = await reaches(app, machine.id, "stopped")
    const exit = stopped.events[0]
    expect(exit).toMatchObject({ type: "exit", status: "stopped", source: "flyd" })
    expect(exit.request.exit_event).toEqual({
      ...exitEventShape,
      exit_code: 3,
      guest_exit_code: 3,
      guest_signal: -1,
      signal: -1,
    })
    expect(exit.request.exit_event).not.toHaveProperty("exited_at")
    expect(exit.request.restart_count).toBe(0)

    await harness.call("POST", `${machinePath(app, machine.id)}/start`)
    await reaches(app, machine.id, "started")
    recorder.exit(machine.id, 128 + 15, "SIGTERM")
    const killed = await reaches(app, machine.id, "stopped")
    expect(killed.events[0].request.exit_event).toMatchObject({ exit_code: 143, guest_signal: 15, signal: -1 })
  })

  it("a requested stop records stop/stopping (user) and an exit with requested_stop", async () => {
    const app = harness.appName()
    await createApp(harness, app)
    const machine = await startedMachine(harness, app)
    await harness.call("POST", `${machinePath(app, machine.id)}/stop`)
    const stopped = await reaches(app, machine.id, "stopped")
    expect(stopped.events.slice(0, 2)).toMatchObject([
      { type: "exit", status: "stopped", source: "flyd" },
      { type: "stop", status: "stopping", source: "user" },
    ])
    expect(stopped.events[0].request.exit_event).toEqual({
      ...exitEventShape,
      exit_code: 0,
      guest_exit_code: 0,
      guest_signal: -1,
      signal: -1,
      requested_stop: true,
      restarting: false,
    })
  })

  it("a program missing from the image exits 127 during its start and the machine leaves started", async () => {
    const app = harness.appName()
    await createApp(harness, app)
    recorder.exitDuringStart("registry.example/frps:missing-program", { exitCode: 127 })
    const created = await harness.call("POST", `/v1/apps/${app}/machines`, {
      config: { image: "registry.example/frps:missing-program", restart: { policy: "on-failure", max_retries: 1 } },
    })
    const stopped = await reaches(app, created.body.id, "stopped")
    const exits = stopped.events.filter((event: { type: string }) => event.type === "exit")
    // The first exit restarts (on-failure, one retry), the second does not: two boots, two exits.
    expect(exits.map((event: { request: { exit_event: unknown } }) => event.request.exit_event)).toEqual([
      {
        ...exitEventShape,
        exit_code: 127,
        guest_exit_code: 127,
        guest_signal: -1,
        signal: -1,
        requested_stop: false,
        restarting: false,
      },
      {
        ...exitEventShape,
        exit_code: 127,
        guest_exit_code: 127,
        guest_signal: -1,
        signal: -1,
        requested_stop: false,
        restarting: true,
      },
    ])
    expect(recorder.starts.filter((start) => start.id === created.body.id)).toHaveLength(2)
  })
})

describe("stop and restart", () => {
  it('stop with "timeout": "0s" (fly-go\'s default) leaves the timeout to stop_config, not to an immediate kill', async () => {
    const app = harness.appName()
    await createApp(harness, app)
    const machine = await startedMachine(harness, app)
    await harness.call("POST", `${machinePath(app, machine.id)}/stop`, { signal: "SIGTERM", timeout: "0s" })
    await reaches(app, machine.id, "stopped")
    expect(recorder.stopOptions.filter((stop) => stop.id === machine.id)).toEqual([
      { id: machine.id, signal: "SIGTERM" },
    ])

    await harness.call("POST", `${machinePath(app, machine.id)}/start`)
    await reaches(app, machine.id, "started")
    // fly-go's Duration also travels as integer nanoseconds.
    await harness.call("POST", `${machinePath(app, machine.id)}/stop`, { timeout: 3_000_000_000 })
    await reaches(app, machine.id, "stopped")
    expect(recorder.stopOptions.filter((stop) => stop.id === machine.id).at(-1)).toEqual({
      id: machine.id,
      timeoutMs: 3000,
    })
  })

  it("refuses a stop with a timeout or signal Fly would not parse, and changes nothing", async () => {
    const app = harness.appName()
    await createApp(harness, app)
    const machine = await startedMachine(harness, app)
    for (const body of [{ timeout: "soon" }, { timeout: -1 }, { signal: "SIGNOPE" }]) {
      const response = await harness.call("POST", `${machinePath(app, machine.id)}/stop`, body)
      expect(response.status, JSON.stringify(body)).toBe(400)
    }
    expect((await stateOf(app, machine.id)).state).toBe("started")
  })

  it("restarts a started machine with the query's signal and timeout, or kills it with force_stop", async () => {
    const app = harness.appName()
    await createApp(harness, app)
    const machine = await startedMachine(harness, app)
    const startsBefore = recorder.starts.filter((start) => start.id === machine.id).length
    const restarted = await harness.call(
      "POST",
      `${machinePath(app, machine.id)}/restart?force_stop=false&timeout=5s&signal=SIGTERM`,
    )
    expect(restarted.status).toBe(200)
    expect(restarted.body).toEqual({ ok: true })
    const after = await eventually(async () => {
      const current = await stateOf(app, machine.id)
      return current.state === "started" && current.events[0].type === "start" ? current : undefined
    })
    expect(after.instance_id).toBe(machine.instance_id)
    expect(after.events.slice(0, 4)).toMatchObject([
      { type: "start", status: "started", source: "flyd" },
      { type: "restart", status: "starting", source: "flyd" },
      { type: "exit", status: "stopped", request: { exit_event: { requested_stop: true, restarting: true } } },
      { type: "restart", status: "stopping", source: "user" },
    ])
    expect(recorder.starts.filter((start) => start.id === machine.id)).toHaveLength(startsBefore + 1)
    expect(recorder.stopOptions.filter((stop) => stop.id === machine.id).at(-1)).toEqual({
      id: machine.id,
      signal: "SIGTERM",
      timeoutMs: 5000,
    })

    await harness.call("POST", `${machinePath(app, machine.id)}/restart?force_stop=true`)
    await eventually(async () =>
      recorder.stopOptions.filter((stop) => stop.id === machine.id).length === 2 ? true : undefined,
    )
    expect(recorder.stopOptions.filter((stop) => stop.id === machine.id).at(-1)).toEqual({
      id: machine.id,
      signal: "SIGKILL",
    })
  })

  it("refuses to restart a machine that is not started, and bad query values, with 400 (the only refusal Fly documents)", async () => {
    const app = harness.appName()
    await createApp(harness, app)
    const created = await harness.call("POST", `/v1/apps/${app}/machines`, frpsMachine({ skip_launch: true }))
    const refused = await harness.call("POST", `${machinePath(app, created.body.id)}/restart`)
    expect(refused.status).toBe(400)
    expect(refused.body).toEqual({ error: "unable to restart machine, not currently started" })
    expect((await stateOf(app, created.body.id)).state).toBe("created")
    const machine = await startedMachine(harness, app)
    for (const query of ["timeout=soon", "signal=SIGNOPE", "force_stop=maybe"]) {
      expect((await harness.call("POST", `${machinePath(app, machine.id)}/restart?${query}`)).status, query).toBe(400)
    }
    expect((await stateOf(app, machine.id)).state).toBe("started")
  })
})

describe("wait", () => {
  it("refuses a timeout outside 1–60 s or an unknown state with 400", async () => {
    const app = harness.appName()
    await createApp(harness, app)
    const machine = await startedMachine(harness, app)
    for (const query of ["timeout=0", "timeout=61", "timeout=2m", "timeout=soon", "state=sleeping"]) {
      const response = await harness.call("GET", `${machinePath(app, machine.id)}/wait?${query}`)
      expect(response.status, query).toBe(400)
      expect(typeof response.body.error).toBe("string")
    }
  })

  it("accepts comma-separated and repeated states, and Go durations", async () => {
    const app = harness.appName()
    await createApp(harness, app)
    const machine = await startedMachine(harness, app)
    for (const query of [
      "state=stopped,started&timeout=1",
      "state=stopped&state=started&timeout=30s",
      "state=settled",
    ]) {
      const response = await harness.call("GET", `${machinePath(app, machine.id)}/wait?${query}`)
      expect(response.status, query).toBe(200)
      expect(response.body.state).toBe("started")
    }
  })

  it("answers 408 when the state is not reached in time and 404 for an unknown machine", async () => {
    const app = harness.appName()
    await createApp(harness, app)
    const machine = await startedMachine(harness, app)
    const timedOut = await harness.call("GET", `${machinePath(app, machine.id)}/wait?state=stopped&timeout=1`)
    expect(timedOut.status).toBe(408)
    const stale = await harness.call(
      "GET",
      `${machinePath(app, machine.id)}/wait?state=started&instance_id=01HQ73A7BFFDF1B6WMGHFZZ4E7&timeout=1`,
    )
    expect(stale.status).toBe(408)
    expect((await harness.call("GET", `${machinePath(app, "00000000000000")}/wait`)).status).toBe(404)
  })

  it("answers once the state is reached during the wait", async () => {
    const app = harness.appName()
    await createApp(harness, app)
    const machine = await startedMachine(harness, app)
    const waiting = harness.call("GET", `${machinePath(app, machine.id)}/wait?state=stopped&timeout=60`)
    await harness.call("POST", `${machinePath(app, machine.id)}/stop`)
    const done = await waiting
    expect(done.status).toBe(200)
    expect(done.body.state).toBe("stopped")
  })
})

describe("proxy routes", () => {
  it("routes an app's public addresses to its started machines' services", async () => {
    const app = harness.appName()
    await createApp(harness, app)
    const machine = await startedMachine(harness, app)
    const v4 = (await harness.call("POST", `/v1/apps/${app}/ip_assignments`, { type: "v4" })).body.ip
    const v6 = (await harness.call("POST", `/v1/apps/${app}/ip_assignments`, { type: "v6" })).body.ip
    await harness.call("POST", `/v1/apps/${app}/ip_assignments`, { type: "shared_v4" })
    const routes = await eventually(async () => {
      const mine = recorder.routes().filter((route) => route.app === app)
      return mine.some((route) => route.ip === v6) ? mine : undefined
    })
    const summary = routes.map((r) => `${r.ip} ${r.protocol}/${r.port} ${r.proxyProtoVersion ?? "-"}`).sort()
    // UDP only on the dedicated IPv4: never on IPv6 or a shared IPv4. The shared IPv4 carries none of these ports:
    // Fly routes it by name only (http on 80, tls ports), and these are raw TCP, PROXY protocol and UDP.
    expect(summary).toEqual(
      [`${v4} tcp/7000 -`, `${v4} tcp/443 v2`, `${v4} udp/5353 -`, `${v6} tcp/7000 -`, `${v6} tcp/443 v2`].sort(),
    )
    expect(routes.every((route) => route.targets.length === 1 && route.targets[0]?.machineId === machine.id)).toBe(true)

    await harness.call("POST", `${machinePath(app, machine.id)}/stop`)
    await eventually(async () => (recorder.routes().some((route) => route.app === app) ? undefined : true))
  })
})
