import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { createApp, eventually, frpsMachine, type Harness, startedMachine, startHarness } from "./apiHarness.ts"

const ulid = /^[0-9A-HJKMNP-TV-Z]{26}$/

let harness: Harness
beforeAll(async () => {
  harness = await startHarness({ token: "fm2_test-token" })
})
afterAll(() => harness.emulator.close())

describe("authentication", () => {
  it("refuses a missing or wrong token with Fly's 401 body", async () => {
    for (const authorization of [null, "Bearer nope", "fm2_test-token", "Basic fm2_test-token"]) {
      const response = await harness.call("GET", "/v1/platform/regions", undefined, { authorization })
      expect(response.status).toBe(401)
      expect(response.body).toEqual({ error: "Authenticate: token validation error" })
    }
  })

  it("accepts Bearer X, FlyV1 X, Bearer FlyV1 X and a comma-separated list", async () => {
    for (const authorization of [
      "Bearer fm2_test-token",
      "FlyV1 fm2_test-token",
      "Bearer FlyV1 fm2_test-token",
      "flyv1 fm1r_other,fm2_test-token",
    ]) {
      const response = await harness.call("GET", "/v1/platform/regions", undefined, { authorization })
      expect(response.status).toBe(200)
    }
  })

  it("answers JSON with a fly-request-id", async () => {
    const response = await harness.call("GET", "/v1/apps/none-such")
    expect(response.headers.get("content-type")).toMatch(/^application\/json/)
    expect(response.headers.get("fly-request-id")).toMatch(/^[0-9A-Z]{26}-[a-z]{3}$/)
  })
})

describe("apps", () => {
  it("creates with app_name or name, answers 201 {id, created_at} and refuses a taken name", async () => {
    const first = harness.appName()
    const created = await harness.call("POST", "/v1/apps", { app_name: first, org_slug: "personal" })
    expect(created.status).toBe(201)
    expect(Object.keys(created.body).sort()).toEqual(["created_at", "id"])
    expect(created.body.created_at).toBeGreaterThan(1_600_000_000_000)

    const second = harness.appName()
    expect((await harness.call("POST", "/v1/apps", { name: second, org_slug: "personal" })).status).toBe(201)

    const taken = await harness.call("POST", "/v1/apps", { name: first, org_slug: "other-org" })
    expect(taken.status).toBe(422)
    expect(taken.body).toEqual({ error: "Validation failed: Name has already been taken", status: "name_taken" })
  })

  it("with ?wait=true (what fly-go's flaps.CreateApp sends) answers 201 with the whole App", async () => {
    const name = harness.appName()
    const created = await harness.call("POST", "/v1/apps?wait=true", {
      name,
      org_slug: "my-org",
      network: "tunnels",
      app_role_id: "",
    })
    expect(created.status).toBe(201)
    expect(created.body).toEqual({
      id: expect.stringMatching(/^[0-9a-z]{16}$/),
      name,
      status: "pending",
      network: "tunnels",
      internal_numeric_id: expect.any(Number),
      machine_count: 0,
      volume_count: 0,
      organization: { name: "my-org", slug: "my-org", internal_numeric_id: expect.any(Number) },
    })
    expect((await harness.call("GET", `/v1/apps/${name}`)).body).toEqual(created.body)
  })

  it("does not take GET /v1/apps/ (an empty app name) for a list", async () => {
    for (const path of ["/v1/apps/", "/v1/apps/?org_slug=personal", "/v1/apps//machines"]) {
      const response = await harness.call("GET", path)
      expect(response.status, path).toBe(404)
      expect(response.body, path).toEqual({ error: "not found" })
    }
  })

  it("refuses an invalid name with 422", async () => {
    for (const name of ["Upper", "under_score", "-lead", "x".repeat(64)]) {
      const response = await harness.call("POST", "/v1/apps", { name, org_slug: "personal" })
      expect(response.status).toBe(422)
      expect(response.body.error).toBe(
        "Validation failed: Name under 63 chars using numbers, lowercase letters and dashes",
      )
    }
  })

  it("returns the first app for a repeated idempotency key and rejects it with another name", async () => {
    const name = harness.appName()
    const key = `key-${name}`
    const first = await harness.call("POST", "/v1/apps", { name, org_slug: "personal", idempotency_key: key })
    const again = await harness.call("POST", "/v1/apps", { name, org_slug: "personal", idempotency_key: key })
    const nameless = await harness.call("POST", "/v1/apps", { org_slug: "personal", idempotency_key: key })
    expect(first.status).toBe(201)
    expect(again.body.id).toBe(first.body.id)
    expect(nameless.body.id).toBe(first.body.id)
    const other = await harness.call("POST", "/v1/apps", {
      name: harness.appName(),
      org_slug: "personal",
      idempotency_key: key,
    })
    expect(other.status).toBe(422)
  })

  it("gets the App shape and 404s an unknown app", async () => {
    const name = harness.appName()
    await harness.call("POST", "/v1/apps", { name, org_slug: "my-org", network: "tunnels" })
    const app = await harness.call("GET", `/v1/apps/${name}`)
    expect(app.status).toBe(200)
    expect(app.body).toMatchObject({
      name,
      status: "pending",
      network: "tunnels",
      machine_count: 0,
      organization: { slug: "my-org" },
    })
    const missing = await harness.call("GET", `/v1/apps/${harness.appName("missing")}`)
    expect(missing.status).toBe(404)
    expect(missing.body).toEqual({ error: "app not found" })
  })

  it("lists the apps of an org and requires org_slug", async () => {
    const org = `org-${harness.appName()}`
    const names = [harness.appName(), harness.appName()]
    for (const name of names) await harness.call("POST", "/v1/apps", { name, org_slug: org })
    const listed = await harness.call("GET", `/v1/apps?org_slug=${org}`)
    expect(listed.status).toBe(200)
    expect(listed.body.total_apps).toBe(2)
    expect(listed.body.apps.map((app: { name: string }) => app.name).sort()).toEqual([...names].sort())
    expect((await harness.call("GET", "/v1/apps")).status).toBe(400)
  })

  it("deletes with 202 and takes machines, addresses and secrets along", async () => {
    const name = harness.appName()
    await createApp(harness, name)
    const machine = await startedMachine(harness, name)
    await harness.call("POST", `/v1/apps/${name}/ip_assignments`, { type: "v4" })
    await harness.call("POST", `/v1/apps/${name}/secrets`, { values: { FRP_TOKEN: "s3cret" } })

    const deleted = await harness.call("DELETE", `/v1/apps/${name}`)
    expect(deleted.status).toBe(202)
    expect(deleted.body).toBeUndefined()
    expect((await harness.call("GET", `/v1/apps/${name}`)).status).toBe(404)
    expect((await harness.call("GET", `/v1/apps/${name}/machines/${machine.id}`)).status).toBe(404)
    const state = await harness.emulator.state()
    expect(state.machines.filter((m) => m.app === name)).toEqual([])
    expect(state.ips.filter((ip) => ip.app === name)).toEqual([])
    expect(state.secrets.filter((secret) => secret.app === name)).toEqual([])
    expect((await harness.call("DELETE", `/v1/apps/${name}`)).status).toBe(404)
  })
})

describe("regions", () => {
  it("lists the 18 current regions", async () => {
    const response = await harness.call("GET", "/v1/platform/regions")
    expect(response.body.nearest).toBe("iad")
    expect(response.body.regions.map((region: { code: string }) => region.code)).toEqual(
      "ams arn bom cdg dfw ewr fra gru iad jnb lax lhr nrt ord sin sjc syd yyz".split(" "),
    )
  })

  it("carries Fly's region fields, with geo_region one of fly-go's GeoRegion values", async () => {
    const response = await harness.call("GET", "/v1/platform/regions")
    const geoRegions = ["africa", "asia_pacific", "europe", "north_america", "south_america"]
    for (const region of response.body.regions) {
      expect(Object.keys(region).sort()).toEqual(
        [
          "code",
          "deprecated",
          "gateway_available",
          "geo_region",
          "latitude",
          "longitude",
          "mpg_available",
          "name",
          "requires_paid_plan",
        ].sort(),
      )
      expect(geoRegions).toContain(region.geo_region)
      expect(typeof region.latitude).toBe("number")
      expect(typeof region.longitude).toBe("number")
      expect(typeof region.mpg_available).toBe("boolean")
    }
    const byCode = Object.fromEntries(
      response.body.regions.map((region: { code: string }) => [region.code, region] as const),
    )
    expect(byCode.fra).toMatchObject({ geo_region: "europe", gateway_available: true })
    expect(byCode.gru).toMatchObject({ geo_region: "south_america", gateway_available: false })
    expect(byCode.jnb).toMatchObject({ geo_region: "africa", gateway_available: false })
    expect(byCode.syd.geo_region).toBe("asia_pacific")
    expect(byCode.iad.geo_region).toBe("north_america")
  })

  it("refuses a machine in a removed or unknown region with 422", async () => {
    const name = harness.appName()
    await createApp(harness, name)
    for (const region of ["atl", "maa"]) {
      const response = await harness.call("POST", `/v1/apps/${name}/machines`, frpsMachine({ region }))
      expect(response.status).toBe(422)
      expect(response.body).toEqual({ error: `region ${region} not found` })
    }
  })
})

describe("machines", () => {
  it("creates a machine in state created with Fly's id formats", async () => {
    const name = harness.appName()
    await createApp(harness, name)
    const created = await harness.call("POST", `/v1/apps/${name}/machines`, frpsMachine())
    expect(created.status).toBe(200)
    expect(created.body.state).toBe("created")
    expect(created.body.id).toMatch(/^[0-9a-f]{14}$/)
    expect(created.body.instance_id).toMatch(ulid)
    expect(created.body.private_ip).toMatch(/^fdaa:/)
    expect(created.body.name).toMatch(/^[a-z]+-[a-z]+-\d{4}$/)
    expect(created.body.region).toBe("iad")
    expect(created.body.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/)
    expect(created.body.events).toMatchObject([{ type: "launch", status: "created", source: "user" }])
    expect(created.body.image_ref).toMatchObject({ registry: "registry.example", repository: "frps", tag: "v0.71.0" })
    // fly-go decodes incomplete_config into a *MachineConfig: an object or absent, never false.
    expect("incomplete_config" in created.body).toBe(false)
    expect(created.body.host_status).toBe("ok")
  })

  it("encodes autostop off/stop as booleans and keeps suspend", async () => {
    const name = harness.appName()
    await createApp(harness, name)
    const services = ["off", "stop", "suspend", true].map((autostop, i) => ({
      protocol: "tcp",
      internal_port: 8000 + i,
      ports: [{ port: 8000 + i }],
      autostop,
    }))
    const created = await harness.call("POST", `/v1/apps/${name}/machines`, {
      config: { image: "frps", services },
    })
    expect(created.body.config.services.map((s: { autostop: unknown }) => s.autostop)).toEqual([
      false,
      true,
      "suspend",
      true,
    ])
  })

  it("lists events newest first once started", async () => {
    const name = harness.appName()
    await createApp(harness, name)
    const machine = await startedMachine(harness, name)
    const got = await harness.call("GET", `/v1/apps/${name}/machines/${machine.id}`)
    expect(got.body.state).toBe("started")
    expect(got.body.events.map((event: { type: string }) => event.type)).toEqual(["start", "launch"])
  })

  it("filters the list by metadata, state and include_deleted", async () => {
    const name = harness.appName()
    await createApp(harness, name)
    const tagged = await startedMachine(harness, name, frpsMachine())
    const other = await harness.call("POST", `/v1/apps/${name}/machines`, {
      config: { image: "frps", metadata: { "k8s-service": "other" } },
      skip_launch: true,
    })
    const byMetadata = await harness.call(
      "GET",
      `/v1/apps/${name}/machines?metadata.k8s-service=my-svc&metadata.k8s-namespace=default`,
    )
    expect(byMetadata.body.map((m: { id: string }) => m.id)).toEqual([tagged.id])
    const byState = await harness.call("GET", `/v1/apps/${name}/machines?state=created,stopped`)
    expect(byState.body.map((m: { id: string }) => m.id)).toEqual([other.body.id])

    await harness.call("DELETE", `/v1/apps/${name}/machines/${other.body.id}`)
    await eventually(async () => {
      const listed = await harness.call("GET", `/v1/apps/${name}/machines`)
      return listed.body.length === 1 ? true : undefined
    })
    const withDeleted = await harness.call("GET", `/v1/apps/${name}/machines?include_deleted=true`)
    expect(withDeleted.body.map((m: { id: string }) => m.id).sort()).toEqual([tagged.id, other.body.id].sort())
  })

  it("answers 404 machine not found for an unknown machine", async () => {
    const name = harness.appName()
    await createApp(harness, name)
    const missing = await harness.call("GET", `/v1/apps/${name}/machines/0123456789abcd`)
    expect(missing.status).toBe(404)
    expect(missing.body).toEqual({ error: "machine not found" })
  })

  it("requires config.image", async () => {
    const name = harness.appName()
    await createApp(harness, name)
    const response = await harness.call("POST", `/v1/apps/${name}/machines`, { config: {} })
    expect(response.status).toBe(400)
    expect(response.body.error).toMatch(/image/)
  })

  it("validates services: UDP ports, handlers, port range, force_https, proxy_proto version", async () => {
    const name = harness.appName()
    await createApp(harness, name)
    const invalid: Array<[string, unknown]> = [
      ["udp port", { protocol: "udp", internal_port: 5353, ports: [{ port: 53 }] }],
      ["udp handlers", { protocol: "udp", internal_port: 53, ports: [{ port: 53, handlers: ["proxy_proto"] }] }],
      ["port range", { protocol: "tcp", internal_port: 80, ports: [{ port: 70000 }] }],
      ["port zero", { protocol: "tcp", internal_port: 80, ports: [{ port: 0 }] }],
      ["internal port", { protocol: "tcp", internal_port: 65536, ports: [{ port: 80 }] }],
      [
        "force_https",
        { protocol: "tcp", internal_port: 80, ports: [{ port: 443, handlers: ["tls"], force_https: true }] },
      ],
      [
        "proxy proto",
        {
          protocol: "tcp",
          internal_port: 80,
          ports: [{ port: 80, handlers: ["proxy_proto"], proxy_proto_options: { version: "v3" } }],
        },
      ],
      ["protocol", { protocol: "sctp", internal_port: 80, ports: [{ port: 80 }] }],
    ]
    for (const [what, service] of invalid) {
      const response = await harness.call("POST", `/v1/apps/${name}/machines`, {
        config: { image: "frps", services: [service] },
      })
      expect(response.status, what).toBe(400)
      expect(typeof response.body.error, what).toBe("string")
    }
    const valid = await harness.call("POST", `/v1/apps/${name}/machines`, frpsMachine())
    expect(valid.status).toBe(200)
  })
})

describe("IP assignments", () => {
  it("assigns v4, v6, one shared_v4 and a private_v6, lists and releases them", async () => {
    const name = harness.appName()
    await harness.call("POST", "/v1/apps", { name, org_slug: "personal" })
    const path = `/v1/apps/${name}/ip_assignments`
    const v4 = await harness.call("POST", path, { type: "v4", region: "", org_slug: "", network: "", service_name: "" })
    expect(v4.status).toBe(200)
    expect(v4.body).toMatchObject({ shared: false, region: "global", egress: false, network: null })
    expect(v4.body.ip).toMatch(/^\d+\.\d+\.\d+\.\d+$/)
    const v6 = await harness.call("POST", path, { type: "v6" })
    expect(v6.body.ip).toContain(":")
    const shared = await harness.call("POST", path, { type: "shared_v4" })
    expect(shared.body.shared).toBe(true)
    const sharedAgain = await harness.call("POST", path, { type: "shared_v4" })
    expect(sharedAgain.body.ip).toBe(shared.body.ip)
    const flycast = await harness.call("POST", path, { type: "private_v6", network: "pool" })
    expect(flycast.body.ip).toMatch(/^fdaa:/)
    expect(flycast.body.network).toEqual({ name: "pool", org_slug: "personal" })

    const listed = await harness.call("GET", path)
    expect(listed.body.ips.map((ip: { ip: string }) => ip.ip).sort()).toEqual(
      [v4.body.ip, v6.body.ip, shared.body.ip, flycast.body.ip].sort(),
    )

    const released = await harness.call("DELETE", `${path}/${encodeURIComponent(v6.body.ip)}`)
    expect(released.status).toBe(204)
    expect(released.body).toBeUndefined()
    expect((await harness.call("DELETE", `${path}/${v4.body.ip}`)).status).toBe(204)
    expect((await harness.call("DELETE", `${path}/${v4.body.ip}`)).status).toBe(404)
    const after = await harness.call("GET", path)
    expect(after.body.ips.map((ip: { ip: string }) => ip.ip).sort()).toEqual([shared.body.ip, flycast.body.ip].sort())
  })

  it("refuses an unknown type and an unknown app", async () => {
    const name = harness.appName()
    await createApp(harness, name)
    expect((await harness.call("POST", `/v1/apps/${name}/ip_assignments`, { type: "v5" })).status).toBe(400)
    const missing = await harness.call("POST", `/v1/apps/${harness.appName()}/ip_assignments`, { type: "v4" })
    expect(missing.status).toBe(404)
  })
})

describe("secrets", () => {
  it("sets, lists digests, shows values on request and unsets with null", async () => {
    const name = harness.appName()
    await createApp(harness, name)
    const path = `/v1/apps/${name}/secrets`
    const set = await harness.call("POST", path, { values: { FRP_TOKEN: "one", OTHER: "two" } })
    expect(set.status).toBe(200)
    expect(set.body.version).toBe(1)
    expect(set.body.secrets.map((s: { name: string }) => s.name).sort()).toEqual(["FRP_TOKEN", "OTHER"])
    expect(JSON.stringify(set.body)).not.toContain("one")

    const listed = await harness.call("GET", path)
    expect(
      listed.body.secrets.every((s: { value?: string; digest: string }) => s.value === undefined && s.digest),
    ).toBe(true)
    const shown = await harness.call("GET", `${path}?show_secrets=true`)
    expect(shown.body.secrets.find((s: { name: string }) => s.name === "FRP_TOKEN").value).toBe("one")

    const unset = await harness.call("POST", path, { values: { OTHER: null, FRP_TOKEN: "changed" } })
    expect(unset.body.version).toBe(2)
    expect(unset.body.secrets.map((s: { name: string }) => s.name)).toEqual(["FRP_TOKEN"])
    const digests = [listed, unset].map(
      (r) => r.body.secrets.find((s: { name: string }) => s.name === "FRP_TOKEN").digest,
    )
    expect(digests[0]).not.toBe(digests[1])

    const one = await harness.call("POST", `${path}/SINGLE`, { value: "x" })
    expect(one.status).toBe(201)
    expect(one.body).toMatchObject({ name: "SINGLE", version: 3 })
    expect((await harness.call("DELETE", `${path}/SINGLE`)).body).toMatchObject({ version: 4 })
    expect((await harness.call("GET", `${path}/SINGLE`)).status).toBe(404)

    const state = await harness.emulator.state()
    expect(state.secrets.filter((s) => s.app === name)).toEqual([{ app: name, name: "FRP_TOKEN", digest: digests[1] }])
  })
})
