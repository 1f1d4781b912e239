import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { createApp, type Harness, startHarness } from "./apiHarness.ts"

let harness: Harness
beforeAll(async () => {
  harness = await startHarness()
})
afterAll(() => harness.emulator.close())

/** An App with a dedicated IPv4 and an IPv6, as a tunnel has. */
const appWithAddresses = async () => {
  const app = harness.appName("certs")
  await createApp(harness, app)
  const v4 = (await harness.call("POST", `/v1/apps/${app}/ip_assignments`, { type: "v4" })).body.ip as string
  const v6 = (await harness.call("POST", `/v1/apps/${app}/ip_assignments`, { type: "v6" })).body.ip as string
  return { app, v4, v6 }
}

// The REST certificates API as Fly documents it: https://fly.io/docs/machines/api/certificates-resource/
describe("certificates (REST)", () => {
  it("an ACME create answers 201 pending_validation with Fly's dns_requirements; a second one for the hostname is 422", async () => {
    const { app, v4, v6 } = await appWithAddresses()
    const created = await harness.call("POST", `/v1/apps/${app}/certificates/acme`, { hostname: "Shop.Example.com" })
    expect(created.status).toBe(201)
    expect(created.body).toMatchObject({
      hostname: "shop.example.com",
      configured: false,
      acme_requested: true,
      status: "pending_validation",
      rate_limited_until: null,
      certificates: [],
      validation: { dns_configured: false, alpn_configured: false, http_configured: false },
      dns_requirements: {
        a: [v4],
        aaaa: [v6],
        cname: `${app}.fly.dev`,
        acme_challenge: {
          name: "_acme-challenge.shop.example.com",
          target: expect.stringMatching(/^shop\.example\.com\.\w+\.flydns\.net$/),
        },
        ownership: {
          name: "_fly-ownership.shop.example.com",
          app_value: expect.stringMatching(/^app-/),
          org_value: expect.stringMatching(/^org-/),
        },
      },
      validation_errors: [],
    })
    const again = await harness.call("POST", `/v1/apps/${app}/certificates/acme`, { hostname: "shop.example.com" })
    expect(again).toMatchObject({ status: 422, body: { error: "Hostname already exists on app" } })
    const notFqdn = await harness.call("POST", `/v1/apps/${app}/certificates/acme`, { hostname: "localhost" })
    expect(notFqdn).toMatchObject({ status: 422, body: { error: "Hostname is not a fully qualified domain name" } })
    const listed = await harness.call("GET", `/v1/apps/${app}/certificates`)
    expect(listed.status).toBe(200)
    expect(listed.body).toMatchObject({
      certificates: [{ hostname: "shop.example.com", status: "pending_validation", has_fly_certificate: false }],
      next_cursor: null,
      total_count: 1,
    })
  })

  it("stays pending while DNS leads elsewhere; once the emulator's DNS points at the App it is issued (active)", async () => {
    const { app } = await appWithAddresses()
    await harness.call("POST", `/v1/apps/${app}/certificates/acme`, { hostname: "www.example.org" })
    const pending = await harness.call("POST", `/v1/apps/${app}/certificates/www.example.org/check`)
    expect(pending.status).toBe(200)
    expect(pending.body).toMatchObject({ status: "pending_validation", dns_records: { resolved_addresses: [] } })

    await harness.emulator.setDns({ hostname: "www.example.org", points_at: app, via: "cname" })
    const active = await harness.call("GET", `/v1/apps/${app}/certificates/www.example.org`)
    expect(active.body).toMatchObject({
      status: "active",
      configured: true,
      certificates: [
        { source: "fly", status: "active", issued: [{ type: "ecdsa", certificate_authority: "lets_encrypt" }] },
      ],
    })
    const checked = await harness.call("POST", `/v1/apps/${app}/certificates/www.example.org/check`)
    expect(checked.body.dns_records).toMatchObject({ cname: [`${app}.fly.dev`] })
  })

  it("reports an armed validation error and a rate limit, and issues once they are cleared", async () => {
    const { app } = await appWithAddresses()
    for (const hostname of ["caa.example.net", "busy.example.net"])
      await harness.call("POST", `/v1/apps/${app}/certificates/acme`, { hostname })
    await harness.emulator.injectAcmeFault({
      hostname: "caa.example.net",
      kind: "validation_error",
      code: "CAA_RECORD_MISSING_FLY",
      message: "A CAA record does not allow Let's Encrypt",
      remediation: "Add a CAA record for letsencrypt.org",
    })
    await harness.emulator.injectAcmeFault({ hostname: "busy.example.net", kind: "rate_limited", seconds: 600 })
    await harness.emulator.setDns({ hostname: "caa.example.net", points_at: app })
    await harness.emulator.setDns({ hostname: "busy.example.net", points_at: app })
    const failed = await harness.call("POST", `/v1/apps/${app}/certificates/caa.example.net/check`)
    expect(failed.body).toMatchObject({
      status: "pending_validation",
      validation_errors: [
        {
          code: "CAA_RECORD_MISSING_FLY",
          message: expect.any(String),
          remediation: "Add a CAA record for letsencrypt.org",
        },
      ],
    })
    const limited = await harness.call("POST", `/v1/apps/${app}/certificates/busy.example.net/check`)
    expect(limited.body.status).toBe("pending_validation")
    expect(Date.parse(limited.body.rate_limited_until)).toBeGreaterThan(Date.now() + 500_000)

    await harness.emulator.clearAcmeFaults()
    for (const hostname of ["caa.example.net", "busy.example.net"]) {
      const issued = await harness.call("GET", `/v1/apps/${app}/certificates/${hostname}`)
      expect(issued.body).toMatchObject({ status: "active", validation_errors: [], rate_limited_until: null })
    }
  })

  it("does not validate through the App's addresses without an IPv6 (Fly's docs), but does through _acme-challenge", async () => {
    const app = harness.appName("nov6")
    await createApp(harness, app)
    await harness.call("POST", `/v1/apps/${app}/ip_assignments`, { type: "v4" })
    for (const hostname of ["a.example.io", "b.example.io"])
      await harness.call("POST", `/v1/apps/${app}/certificates/acme`, { hostname })
    await harness.emulator.setDns({ hostname: "a.example.io", points_at: app })
    await harness.emulator.setDns({ hostname: "b.example.io", points_at: app, via: "acme_challenge" })
    const viaAddress = await harness.call("GET", `/v1/apps/${app}/certificates/a.example.io`)
    expect(viaAddress.body).toMatchObject({
      status: "pending_validation",
      validation_errors: [{ code: "IPV6_NOT_ALLOCATED" }],
    })
    expect((await harness.call("GET", `/v1/apps/${app}/certificates/b.example.io`)).body.status).toBe("active")
  })

  it("pages the list with limit and cursor; deletes with 204, then 404; an App's delete takes its certificates", async () => {
    const { app } = await appWithAddresses()
    for (const n of [1, 2, 3])
      await harness.call("POST", `/v1/apps/${app}/certificates/acme`, { hostname: `h${n}.example.com` })
    const first = await harness.call("GET", `/v1/apps/${app}/certificates?limit=2`)
    expect(first.body.certificates.map((entry: { hostname: string }) => entry.hostname)).toEqual([
      "h1.example.com",
      "h2.example.com",
    ])
    const second = await harness.call("GET", `/v1/apps/${app}/certificates?limit=2&cursor=${first.body.next_cursor}`)
    expect(second.body).toMatchObject({ certificates: [{ hostname: "h3.example.com" }], next_cursor: null })
    expect((await harness.call("GET", `/v1/apps/${app}/certificates?limit=501`)).status).toBe(400)

    expect((await harness.call("DELETE", `/v1/apps/${app}/certificates/h1.example.com`)).status).toBe(204)
    expect((await harness.call("DELETE", `/v1/apps/${app}/certificates/h1.example.com`)).status).toBe(404)
    expect((await harness.call("GET", `/v1/apps/${app}/certificates/h1.example.com`)).status).toBe(404)
    expect((await harness.call("DELETE", `/v1/apps/${app}?force=true`)).status).toBe(202)
    const state = await harness.emulator.state()
    expect(state.certificates.filter((certificate) => certificate.app === app)).toEqual([])
  })

  it("gives every App the same shared IPv4, released with the last of them", async () => {
    const apps = [harness.appName("shared"), harness.appName("shared")]
    for (const app of apps) await createApp(harness, app)
    const answers = await Promise.all(
      apps.map((app) => harness.call("POST", `/v1/apps/${app}/ip_assignments`, { type: "shared_v4" })),
    )
    const [a, b] = answers.map((answer) => answer.body)
    expect(a.shared).toBe(true)
    expect(b.ip).toBe(a.ip)
    expect((await harness.call("DELETE", `/v1/apps/${apps[0]}/ip_assignments/${a.ip}`)).status).toBe(204)
    const state = await harness.emulator.state()
    expect(state.ips.filter((ip) => ip.ip === a.ip).map((ip) => ip.app)).toEqual([apps[1]])
  })

  it("answers the edge CA on GET /_emulator/ca", async () => {
    const response = await fetch(`${harness.emulator.baseUrl}/_emulator/ca`)
    expect(response.status).toBe(200)
    expect(await response.text()).toBe(harness.emulator.caCertificate)
    expect(harness.emulator.caCertificate).toMatch(/^-----BEGIN CERTIFICATE-----/)
  })
})
