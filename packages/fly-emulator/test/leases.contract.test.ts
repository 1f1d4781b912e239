import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { createApp, eventually, frpsMachine, type Harness, startedMachine, startHarness } from "./apiHarness.ts"

let harness: Harness
beforeAll(async () => {
  harness = await startHarness()
})
afterAll(() => harness.emulator.close())

const nonceHeader = "fly-machine-lease-nonce"

/** A call with the lease nonce header (or none). */
const call = async (method: string, path: string, nonce?: string, body?: unknown) => {
  const response = await fetch(`${harness.emulator.baseUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${harness.emulator.token}`,
      ...(nonce === undefined ? {} : { [nonceHeader]: nonce }),
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })
  const text = await response.text()
  return { status: response.status, body: text === "" ? undefined : JSON.parse(text) }
}

const leasedMachine = async () => {
  const app = harness.appName()
  await createApp(harness, app)
  const machine = await startedMachine(harness, app)
  return { app, machine, path: `/v1/apps/${app}/machines/${machine.id}` }
}

const nowSeconds = () => Math.floor(Date.now() / 1000)

describe("leases", () => {
  it("acquires with ?ttl=N and no body (fly-go), answering the wrapped lease; GET shows it", async () => {
    const { path } = await leasedMachine()
    const acquired = await call("POST", `${path}/lease?ttl=120`)
    expect(acquired.status).toBe(201)
    expect(acquired.body).toEqual({
      status: "success",
      data: {
        nonce: expect.stringMatching(/^[0-9a-f]{12}$/),
        expires_at: expect.any(Number),
        owner: expect.stringMatching(/@tokens\.fly\.io$/),
        description: "",
        version: expect.stringMatching(/^[0-9A-Z]{26}$/),
      },
    })
    // expires_at is epoch seconds.
    expect(acquired.body.data.expires_at - nowSeconds()).toBeGreaterThanOrEqual(118)
    expect(acquired.body.data.expires_at - nowSeconds()).toBeLessThanOrEqual(120)
    const found = await call("GET", `${path}/lease`)
    expect(found.status).toBe(200)
    expect(found.body).toEqual(acquired.body)
  })

  it('acquires with a {"ttl", "description"} body (the docs) and shows the lease with include_leases', async () => {
    const { app, path } = await leasedMachine()
    const acquired = await call("POST", `${path}/lease`, undefined, { ttl: 60, description: "deploying" })
    expect(acquired.status).toBe(201)
    expect(acquired.body.data.description).toBe("deploying")
    const got = await call("GET", `${path}?include_leases=true`)
    expect(got.body.lease).toEqual({
      description: "deploying",
      expires_at: acquired.body.data.expires_at,
      owner: acquired.body.data.owner,
    })
    const listed = await call("GET", `/v1/apps/${app}/machines?include_leases=true`)
    expect(listed.body[0].lease.expires_at).toBe(acquired.body.data.expires_at)
    expect((await call("GET", path)).body).not.toHaveProperty("lease")
  })

  it("answers 409 to a second acquire while the lease is held", async () => {
    const { machine, path } = await leasedMachine()
    await call("POST", `${path}/lease?ttl=60`)
    const second = await call("POST", `${path}/lease?ttl=60`)
    expect(second.status).toBe(409)
    expect(second.body).toEqual({
      status: "error",
      message: expect.stringMatching(
        new RegExp(`^machine ID ${machine.id} lease currently held by .+@tokens\\.fly\\.io, expires at `),
      ),
      code: "invalid",
    })
  })

  it("refuses writes without the nonce (409) and lets them through with it", async () => {
    const { app, machine, path } = await leasedMachine()
    const nonce = (await call("POST", `${path}/lease?ttl=60`)).body.data.nonce
    const writes: ReadonlyArray<readonly [string, string, unknown]> = [
      ["POST", path, frpsMachine()],
      ["POST", `${path}/stop`, {}],
      ["POST", `${path}/restart`, undefined],
      ["DELETE", `${path}?force=true`, undefined],
    ]
    const before = (await harness.emulator.state()).calls.length
    for (const [method, target, body] of writes) {
      for (const wrong of [undefined, "000000000000"]) {
        const refused = await call(method, target, wrong, body)
        expect(refused.status, `${method} ${target} nonce=${wrong}`).toBe(409)
        expect(refused.body.error).toMatch(
          new RegExp(`^aborted: machine ID ${machine.id} lease currently held by .+, expires at \\d{4}-\\d\\d-\\d\\dT`),
        )
      }
    }
    const calls = (await harness.emulator.state()).calls.slice(before)
    expect(calls.every((logged) => !logged.applied)).toBe(true)
    expect((await call("GET", path)).body.state).toBe("started")

    const updated = await call("POST", path, nonce, frpsMachine())
    expect(updated.status).toBe(200)
    // An update restarts the Machine: stop it once it runs again, as a client does (a stop in between is 412).
    const restarted = await call("GET", `${path}/wait?state=started&timeout=30&version=${updated.body.instance_id}`)
    expect(restarted.status).toBe(200)
    const stopped = await call("POST", `${path}/stop`, nonce, {})
    expect(stopped.status).toBe(200)
    // Reads need no nonce.
    expect((await call("GET", `/v1/apps/${app}/machines`)).status).toBe(200)
  })

  it("refreshes with the nonce header, releases with it, and then anyone may write", async () => {
    const { path } = await leasedMachine()
    const first = (await call("POST", `${path}/lease?ttl=10`)).body.data
    const refreshed = await call("POST", `${path}/lease?ttl=300`, first.nonce)
    expect(refreshed.status).toBe(201)
    expect(refreshed.body.data.nonce).toBe(first.nonce)
    expect(refreshed.body.data.expires_at).toBeGreaterThan(first.expires_at)

    expect((await call("DELETE", `${path}/lease`)).status).toBe(400)
    expect((await call("DELETE", `${path}/lease`, "000000000000")).status).toBe(409)
    const released = await call("DELETE", `${path}/lease`, first.nonce)
    expect(released.status).toBe(200)
    expect(released.body).toEqual({ status: "success", data: { ok: true } })
    expect((await call("GET", `${path}/lease`)).status).toBe(404)
    expect((await call("DELETE", `${path}/lease`, first.nonce)).body.message).toBe("lease not found")
    expect((await call("POST", `${path}/stop`, undefined, {})).status).toBe(200)
  })

  it("a lease expires after its ttl: writes go through without a nonce again", async () => {
    const { path } = await leasedMachine()
    await call("POST", `${path}/lease?ttl=1`)
    expect((await call("POST", `${path}/stop`, undefined, {})).status).toBe(409)
    // The lease is held for 1 s (whole seconds, like expires_at) and then lapses.
    await eventually(async () => ((await call("GET", `${path}/lease`)).status === 404 ? true : undefined))
    expect((await call("POST", `${path}/stop`, undefined, {})).status).toBe(200)
  })

  it("creates a Machine with lease_ttl: the answer carries the nonce, and the lease holds", async () => {
    const app = harness.appName()
    await createApp(harness, app)
    const created = await call("POST", `/v1/apps/${app}/machines`, undefined, frpsMachine({ lease_ttl: 60 }))
    expect(created.status).toBe(200)
    expect(created.body.nonce).toMatch(/^[0-9a-f]{12}$/)
    const path = `/v1/apps/${app}/machines/${created.body.id}`
    expect((await call("GET", `${path}/lease`)).body.data.nonce).toBe(created.body.nonce)
    expect((await call("DELETE", `${path}?force=true`)).status).toBe(409)
    expect((await call("DELETE", `${path}?force=true`, created.body.nonce)).status).toBe(200)
  })

  it("refuses a ttl that is not a positive whole number of seconds", async () => {
    const { path } = await leasedMachine()
    for (const query of ["ttl=0", "ttl=-5", "ttl=1.5", "ttl=soon"])
      expect((await call("POST", `${path}/lease?${query}`)).status, query).toBe(400)
    expect((await call("GET", `${path}/lease`)).status).toBe(404)
  })
})
