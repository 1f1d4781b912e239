import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Schema } from "effect"
import {
  App,
  CertificateDetail,
  CreateAppRequest,
  CreateAppResponse,
  CreateMachineRequest,
  decodeJson,
  type Endpoint,
  ErrorResponse,
  errorFromResponse,
  IpAssignment,
  ListAppsResponse,
  ListCertificatesResponse,
  ListIpAssignmentsResponse,
  ListSecretsResponse,
  Machine,
  MachineConfig,
  MachineEvent,
  MachineLease,
  RegionsResponse,
  SetSecretsResponse,
  WaitMachineResponse,
} from "../src/index.ts"

// Fly's answers as its docs and its Go client (fly-go) show them, decoded with the client's own
// schemas: unknown extra fields are tolerated, missing optional ones too. Sections of the Machines API
// reference are noted in the test names.
const decode = <S extends Schema.Decoder<unknown>>(schema: S, json: string) =>
  Schema.decodeUnknownSync(schema)(JSON.parse(json))

const machineCreateResponse = `{
  "id": "1857156b526dd8",
  "name": "aged-thunder-7371",
  "state": "created",
  "region": "ord",
  "image_ref": {"registry": "registry-1.docker.io", "repository": "library/ubuntu", "tag": "latest",
                "digest": "sha256:c9cf959fd83770dfdefd8fb42cfef0761432af36a764c077aed54bbc5bb25368",
                "labels": {"org.opencontainers.image.ref.name": "ubuntu", "org.opencontainers.image.version": "22.04"}},
  "instance_id": "01HEPA330HZ37A78TK080NAK1M",
  "private_ip": "fdaa:ff:ff:a7b:195:e229:8038:2",
  "created_at": "2023-11-08T01:52:30Z",
  "updated_at": "2023-11-08T01:52:30Z",
  "config": {"init": {"exec": ["/bin/sleep", "inf"]}, "image": "registry-1.docker.io/library/ubuntu:latest",
             "auto_destroy": true, "restart": {"policy": "always"},
             "guest": {"cpu_kind": "shared", "cpus": 1, "memory_mb": 256}, "dns": {}},
  "events": [{"type": "launch", "status": "created", "source": "user", "timestamp": 1699408350300}]
}`

// The constructed example of a create for our use case.
const frpsMachineRequest = `{
  "name": "frps-0",
  "region": "iad",
  "config": {
    "image": "registry.example/frps:v0.61.0",
    "guest": {"cpu_kind": "shared", "cpus": 1, "memory_mb": 256},
    "init": {"cmd": ["-c", "/etc/frp/frps.toml"]},
    "files": [{"guest_path": "/etc/frp/frps.toml", "secret_name": "FRPS_TOML"}],
    "env": {"FRPS_LOG_LEVEL": "info"},
    "restart": {"policy": "always"},
    "metadata": {"k8s-namespace": "default", "k8s-service": "my-svc"},
    "services": [
      {"protocol": "tcp", "internal_port": 7000, "ports": [{"port": 7000}],
       "autostart": true, "autostop": "off", "min_machines_running": 1},
      {"protocol": "tcp", "internal_port": 8443,
       "ports": [{"port": 443, "handlers": ["proxy_proto"], "proxy_proto_options": {"version": "v2"}}]},
      {"protocol": "udp", "internal_port": 5353, "ports": [{"port": 5353}]}
    ],
    "checks": {"frps-bind": {"type": "tcp", "port": 7000, "interval": "15s", "timeout": "2s"}}
  }
}`

describe("apps", () => {
  it("create with ?wait=true answers the whole App (fly-go decodes it as App)", () => {
    const app = decode(
      App,
      `{"id": "z4k69dxd8r31p5mx", "name": "my-app-name", "status": "pending", "network": "default",
        "internal_numeric_id": 1234, "machine_count": 0, "volume_count": 0,
        "organization": {"name": "My Org", "slug": "personal", "internal_numeric_id": 7},
        "cname_target": "abc.my-app-name.fly.dev", "app_role": ""}`,
    )
    assert.strictEqual(app.name, "my-app-name")
    assert.strictEqual(app.organization?.slug, "personal")
    assert.strictEqual(app.machine_count, 0)
  })

  it("create request (docs, with name) and 201 response", () => {
    const request = decode(CreateAppRequest, `{"name": "my-app-name", "org_slug": "personal", "network": "n1"}`)
    assert.deepStrictEqual(request, { name: "my-app-name", org_slug: "personal", network: "n1" })
    const response = decode(CreateAppResponse, `{"id": "z4k69dxd8r31p5mx", "created_at": 1708631799000}`)
    assert.deepStrictEqual(response, { id: "z4k69dxd8r31p5mx", created_at: 1708631799000 })
  })

  it("get app (docs example) ignores fields it does not need", () => {
    const app = decode(
      App,
      `{"id": "jlyv9r5d56v18xrg", "name": "my-app-name", "status": "pending", "machine_count": 0,
        "cname_target": "x.my-app-name.fly.dev", "organization": {"name": "My Org", "slug": "personal"}}`,
    )
    assert.deepStrictEqual(app, {
      id: "jlyv9r5d56v18xrg",
      name: "my-app-name",
      status: "pending",
      machine_count: 0,
      organization: { name: "My Org", slug: "personal" },
    })
  })
})

describe("machines", () => {
  it("create response (docs example)", () => {
    const machine = decode(Machine, machineCreateResponse)
    assert.strictEqual(machine.id, "1857156b526dd8")
    assert.strictEqual(machine.state, "created")
    assert.strictEqual(machine.instance_id, "01HEPA330HZ37A78TK080NAK1M")
    assert.strictEqual(machine.private_ip, "fdaa:ff:ff:a7b:195:e229:8038:2")
    assert.strictEqual(machine.config?.restart?.policy, "always")
    assert.deepStrictEqual(machine.events, [
      { type: "launch", status: "created", source: "user", timestamp: 1699408350300 },
    ])
  })

  it("keeps unknown config fields, so a config read from Fly can be sent back whole", () => {
    const machine = decode(Machine, machineCreateResponse)
    assert.deepStrictEqual(machine.config?.dns, {})
    assert.isDefined(machine.config)
    const encoded = Schema.encodeSync(MachineConfig)(machine.config ?? { image: "" })
    assert.deepStrictEqual(encoded, JSON.parse(machineCreateResponse).config)
  })

  it("a Machine on a host that is not ok comes without config; a list with one still decodes", () => {
    const unreachable = {
      ...JSON.parse(machineCreateResponse),
      state: "started",
      host_status: "unreachable",
      incomplete_config: { metadata: { "fly-tunnel-operator.dev/tunnel-uid": "u1" } },
      host_features: ["lsvd"],
    }
    delete unreachable.config
    const healthy = { ...JSON.parse(machineCreateResponse), id: "3d8d413b29d089", host_status: "ok" }
    const list = decode(Schema.Array(Machine), JSON.stringify([healthy, unreachable]))
    assert.strictEqual(list[0]?.config?.image, "registry-1.docker.io/library/ubuntu:latest")
    assert.strictEqual(list[1]?.config, undefined)
    assert.strictEqual(list[1]?.host_status, "unreachable")
    assert.deepStrictEqual(list[1]?.incomplete_config?.metadata, { "fly-tunnel-operator.dev/tunnel-uid": "u1" })
    // An empty incomplete_config, and none at all, decode too; so does a host status Fly may add later.
    const bare = { ...unreachable, incomplete_config: {}, host_status: "unknown" }
    assert.deepStrictEqual(decode(Machine, JSON.stringify(bare)).incomplete_config, {})
    const { incomplete_config: _, ...without } = unreachable
    assert.strictEqual(decode(Machine, JSON.stringify({ ...without, host_status: "draining" })).host_status, "draining")
  })

  it("events as Fly sends them: stop, exit with exit_event, restart, proxy start; exited_at in either form", () => {
    const events = `[
      {"id": "01M045ZJRCZ9SGQ0WC8SGKFS3Q", "type": "start", "status": "started", "request": {}, "source": "flyd", "timestamp": 1786846890764},
      {"id": "01M045ZHKZ0C33XWFTGCK4MKYD", "type": "start", "status": "starting", "source": "proxy", "timestamp": 1786846889599},
      {"id": "01M045ZH1ZN2JFXYM4GK1S6C16", "type": "exit", "status": "stopped",
       "request": {"exit_event": {"requested_stop": true, "restarting": false, "guest_exit_code": 0, "guest_signal": -1,
                                  "guest_error": "", "exit_code": 0, "signal": -1, "error": "", "oom_killed": false,
                                  "exited_at": "2026-08-16T02:21:28.614Z"},
                   "restart_count": 0},
       "source": "flyd", "timestamp": 1786846889023},
      {"id": "01M045ZG28KTY8DSQG4GJG01T9", "type": "stop", "status": "stopping", "request": {"reason": ""}, "source": "user", "timestamp": 1786846888008},
      {"type": "exit", "status": "stopped",
       "request": {"exit_event": {"exit_code": 127, "exited_at": 1653346105255, "guest_exit_code": 0, "guest_signal": -1,
                                  "oom_killed": false, "requested_stop": false, "restarting": false, "signal": -1},
                   "restart_count": 0},
       "source": "flyd", "timestamp": 1653346106636},
      {"type": "restart", "status": "starting", "source": "flyd", "timestamp": 1669151872710}
    ]`
    const decoded = decode(Schema.Array(MachineEvent), events)
    assert.deepStrictEqual(decoded[2]?.request?.exit_event, {
      requested_stop: true,
      restarting: false,
      guest_exit_code: 0,
      guest_signal: -1,
      guest_error: "",
      exit_code: 0,
      signal: -1,
      error: "",
      oom_killed: false,
      exited_at: "2026-08-16T02:21:28.614Z",
    })
    assert.strictEqual(decoded[4]?.request?.exit_event?.exit_code, 127)
    assert.strictEqual(decoded[5]?.request, undefined)
  })

  it.effect("an exit event whose signal is not an int fails the decode, naming the field", () =>
    Effect.gen(function* () {
      const machine = JSON.parse(machineCreateResponse)
      machine.events = [
        { type: "exit", status: "stopped", request: { exit_event: { exit_code: 1, signal: "" } }, source: "flyd" },
      ]
      const error = yield* Effect.flip(decodeJson("getMachine", Machine, JSON.stringify(machine), 200))
      assert.strictEqual(error.path, "events.0.request.exit_event.signal")
    }),
  )

  it("the constructed frps request round-trips unchanged", () => {
    const request = decode(CreateMachineRequest, frpsMachineRequest)
    assert.deepStrictEqual(Schema.encodeSync(CreateMachineRequest)(request), JSON.parse(frpsMachineRequest))
    assert.strictEqual(request.config.services?.[1]?.ports?.[0]?.proxy_proto_options?.version, "v2")
    assert.strictEqual(request.config.files?.[0]?.secret_name, "FRPS_TOML")
  })

  it("autostop: responses say false/true for off/stop and a string for suspend", () => {
    const service = (autostop: unknown) =>
      decode(MachineConfig, JSON.stringify({ image: "i", services: [{ protocol: "tcp", internal_port: 1, autostop }] }))
        .services?.[0]?.autostop
    assert.strictEqual(service(false), "off")
    assert.strictEqual(service(true), "stop")
    assert.strictEqual(service("suspend"), "suspend")
    assert.strictEqual(service("off"), "off")
    const encoded = Schema.encodeSync(MachineConfig)({
      image: "i",
      services: [{ protocol: "tcp", internal_port: 1, autostop: "off" }],
    })
    assert.deepStrictEqual(encoded.services, [{ protocol: "tcp", internal_port: 1, autostop: "off" }])
    assert.isTrue(
      Exit.isFailure(
        Schema.decodeUnknownExit(MachineConfig)({
          image: "i",
          services: [{ protocol: "tcp", internal_port: 1, autostop: "maybe" }],
        }),
      ),
    )
  })

  it("wait responses: docs `{ok:true}` and the spec shape", () => {
    assert.deepStrictEqual(decode(WaitMachineResponse, `{"ok": true}`), { ok: true })
    assert.deepStrictEqual(
      decode(WaitMachineResponse, `{"ok": true, "state": "started", "version": "01HEPA330HZ37A78TK080NAK1M"}`),
      { ok: true, state: "started", version: "01HEPA330HZ37A78TK080NAK1M" },
    )
  })
})

describe("IP assignments, secrets, regions", () => {
  const ip = `{"ip": "137.66.12.34", "region": "global", "shared": false, "service_name": "",
    "created_at": "2026-08-20T10:00:00Z", "egress": false, "network": null}`

  it("assignment and list", () => {
    assert.deepStrictEqual(decode(IpAssignment, ip), {
      ip: "137.66.12.34",
      region: "global",
      shared: false,
      service_name: "",
      created_at: "2026-08-20T10:00:00Z",
      egress: false,
      network: null,
    })
    const flycast = `{"ip": "fdaa:0:1::3", "region": "global", "shared": false, "network": {"name": "pool-x7f3k2", "org_slug": "personal"}}`
    const list = decode(ListIpAssignmentsResponse, `{"ips": [${ip}, ${flycast}]}`)
    assert.deepStrictEqual(
      list.ips.map((a) => a.ip),
      ["137.66.12.34", "fdaa:0:1::3"],
    )
    assert.strictEqual(list.ips[1]?.network?.name, "pool-x7f3k2")
  })

  it("secrets write answers a version", () => {
    const response = decode(
      SetSecretsResponse,
      `{"secrets": [{"name": "FRPS_TOML", "digest": "abc", "created_at": "2026-08-20T10:00:00Z", "updated_at": "2026-08-20T10:00:00Z"}], "version": 3}`,
    )
    assert.strictEqual(response.version, 3)
  })

  it("regions, with every field of Fly's regionResponse and one Fly may add", () => {
    const response = decode(
      RegionsResponse,
      `{"nearest": "iad",
        "regions": [{"code": "iad", "name": "Ashburn, Virginia (US)", "deprecated": false, "gateway_available": true,
                     "geo_region": "north_america", "latitude": 39.04, "longitude": -77.49, "mpg_available": true,
                     "requires_paid_plan": false, "capacity": 1200},
                    {"code": "gru"}]}`,
    )
    assert.strictEqual(response.nearest, "iad")
    assert.deepStrictEqual(response.regions[0], {
      code: "iad",
      name: "Ashburn, Virginia (US)",
      deprecated: false,
      gateway_available: true,
      geo_region: "north_america",
      latitude: 39.04,
      longitude: -77.49,
      mpg_available: true,
      requires_paid_plan: false,
    })
    assert.deepStrictEqual(response.regions[1], { code: "gru" })
  })

  it("secrets: one-secret writes and deletes answer versions too (the deprecated Version alongside)", () => {
    const response = decode(SetSecretsResponse, `{"version": 4, "Version": 4}`)
    assert.strictEqual(response.version, 4)
  })
})

/**
 * Decodes an answer the way the client does (JSON text in, `FlyDecodeError` naming the path out), for the checks every
 * decoded answer gets: the documented example, an unknown extra field, a missing optional one, a missing required one.
 */
const decodeAnswer = <S extends Schema.Decoder<unknown>>(endpoint: Endpoint, schema: S, value: unknown) =>
  decodeJson(endpoint, schema, JSON.stringify(value), 200)
const withoutKey = (value: Record<string, unknown>, key: string) =>
  Object.fromEntries(Object.entries(value).filter(([name]) => name !== key))

describe("list apps (GET /v1/apps?org_slug=…)", () => {
  // The Apps resource docs' example.
  const listed = {
    total_apps: 4,
    apps: [{ id: "682kqp6pdno9d543", name: "my-app-1", machine_count: 3, volume_count: 2, network: "default" }],
  }

  it.effect("the documented example decodes; volume_count, which the client does not read, is tolerated", () =>
    Effect.gen(function* () {
      const decoded = yield* decodeAnswer("listApps", ListAppsResponse, listed)
      assert.deepStrictEqual(decoded, {
        total_apps: 4,
        apps: [{ id: "682kqp6pdno9d543", name: "my-app-1", machine_count: 3, network: "default" }],
      })
    }),
  )

  it.effect("an unknown extra field is tolerated, and so are a missing total_apps, network and machine_count", () =>
    Effect.gen(function* () {
      const extra = yield* decodeAnswer("listApps", ListAppsResponse, {
        ...listed,
        cursor: "next",
        apps: [{ ...listed.apps[0], app_role: "" }],
      })
      assert.strictEqual(extra.apps[0]?.name, "my-app-1")
      const bare = yield* decodeAnswer("listApps", ListAppsResponse, {
        apps: [{ id: "682kqp6pdno9d543", name: "my-app-1" }],
      })
      assert.deepStrictEqual(bare, { apps: [{ id: "682kqp6pdno9d543", name: "my-app-1" }] })
    }),
  )

  it.effect("an app without its name fails, naming apps.0.name", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        decodeAnswer("listApps", ListAppsResponse, { ...listed, apps: [withoutKey(listed.apps[0] ?? {}, "name")] }),
      )
      assert.strictEqual(error._tag, "FlyDecodeError")
      assert.strictEqual(error.path, "apps.0.name")
      const noList = yield* Effect.flip(decodeAnswer("listApps", ListAppsResponse, { total_apps: 0 }))
      assert.strictEqual(noList.path, "apps")
    }),
  )
})

describe("list secrets (GET /v1/apps/{app}/secrets)", () => {
  // The shape of the Machines API's AppSecrets: names and digests (values only with show_secrets).
  const listed = {
    secrets: [
      {
        name: "FRPS_TOML",
        digest: "b0b2b3b4b5b6b7b8",
        created_at: "2026-08-20T10:00:00Z",
        updated_at: "2026-08-20T10:00:00Z",
      },
    ],
  }

  it.effect("the documented shape decodes", () =>
    Effect.gen(function* () {
      assert.deepStrictEqual(yield* decodeAnswer("listSecrets", ListSecretsResponse, listed), listed)
    }),
  )

  it.effect("an unknown extra field is tolerated, and so are a missing digest and timestamps", () =>
    Effect.gen(function* () {
      const extra = yield* decodeAnswer("listSecrets", ListSecretsResponse, {
        secrets: [{ ...listed.secrets[0], type: "env", value: "shown only with show_secrets" }],
        version: 3,
      })
      assert.deepStrictEqual(extra.secrets, listed.secrets)
      const bare = yield* decodeAnswer("listSecrets", ListSecretsResponse, { secrets: [{ name: "FRPS_TOML" }] })
      assert.deepStrictEqual(bare, { secrets: [{ name: "FRPS_TOML" }] })
    }),
  )

  it.effect("a secret without its name fails, naming secrets.0.name", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        decodeAnswer("listSecrets", ListSecretsResponse, {
          secrets: [withoutKey(listed.secrets[0] ?? {}, "name")],
        }),
      )
      assert.strictEqual(error._tag, "FlyDecodeError")
      assert.strictEqual(error.path, "secrets.0.name")
    }),
  )
})

describe("list certificates (GET /v1/apps/{app}/certificates)", () => {
  // The Certificates resource docs' list item, with every field it shows.
  const item = {
    hostname: "example.com",
    status: "active",
    dns_provider: "enom",
    acme_dns_configured: true,
    acme_alpn_configured: true,
    acme_http_configured: true,
    ownership_txt_configured: true,
    configured: true,
    acme_requested: true,
    has_custom_certificate: false,
    has_fly_certificate: true,
    created_at: "2024-01-15T12:00:00Z",
    updated_at: "2024-01-15T12:00:00Z",
  }

  it.effect("the documented item decodes (the fields the client does not read are tolerated)", () =>
    Effect.gen(function* () {
      const decoded = yield* decodeAnswer("listCertificates", ListCertificatesResponse, {
        certificates: [item],
        next_cursor: null,
        total_count: 1,
      })
      assert.deepStrictEqual(decoded, {
        certificates: [{ hostname: "example.com", status: "active", configured: true, acme_requested: true }],
        next_cursor: null,
        total_count: 1,
      })
    }),
  )

  it.effect("an unknown extra field is tolerated, and so are a missing cursor, count, status and flags", () =>
    Effect.gen(function* () {
      const extra = yield* decodeAnswer("listCertificates", ListCertificatesResponse, {
        certificates: [{ ...item, is_wildcard: false }],
        next_cursor: "opaque",
        filter_applied: "",
      })
      assert.strictEqual(extra.next_cursor, "opaque")
      const bare = yield* decodeAnswer("listCertificates", ListCertificatesResponse, {
        certificates: [{ hostname: "example.com" }],
      })
      assert.deepStrictEqual(bare, { certificates: [{ hostname: "example.com" }] })
    }),
  )

  it.effect("an item without its hostname fails, naming certificates.0.hostname", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        decodeAnswer("listCertificates", ListCertificatesResponse, { certificates: [withoutKey(item, "hostname")] }),
      )
      assert.strictEqual(error._tag, "FlyDecodeError")
      assert.strictEqual(error.path, "certificates.0.hostname")
    }),
  )
})

describe("certificate detail (ACME create 201, GET, check)", () => {
  // The Certificates resource docs' ACME create answer.
  const pending = {
    hostname: "example.com",
    configured: false,
    acme_requested: true,
    status: "pending_validation",
    dns_provider: "enom",
    rate_limited_until: null,
    certificates: [],
    validation: {
      dns_configured: false,
      alpn_configured: false,
      http_configured: false,
      ownership_txt_configured: false,
    },
    dns_requirements: {
      a: ["137.66.XXX.XXX"],
      aaaa: ["2a09:8280:1::XXXX"],
      cname: "my-app-name.fly.dev",
      acme_challenge: { name: "_acme-challenge.example.com", target: "example.com.XXXXX.flydns.net" },
      ownership: { name: "_fly-ownership.example.com", app_value: "app-XXXXXXXXXX", org_value: "org-XXXXXXXXXX" },
    },
    validation_errors: [],
  }
  // The same hostname once issued, as GET or check answers it; check adds dns_records.
  const issued = {
    ...pending,
    status: "active",
    configured: true,
    certificates: [
      {
        source: "fly",
        status: "active",
        created_at: "2024-01-15T12:00:00Z",
        expires_at: "2024-04-15T12:00:00Z",
        issuer: null,
        issued: [{ type: "ecdsa", expires_at: "2024-04-15T12:00:00Z", certificate_authority: "lets_encrypt" }],
      },
    ],
    dns_records: {
      a: ["137.66.XXX.XXX"],
      aaaa: ["2a09:8280:1::XXXX"],
      cname: [],
      resolved_addresses: ["137.66.XXX.XXX", "2a09:8280:1::XXXX"],
      soa: "ns1.example.com",
      acme_challenge_cname: "example.com.XXXXX.flydns.net",
      ownership_txt: "app-XXXXXXXXXX",
    },
  }

  it.effect("the documented ACME create answer decodes, with what the client reads", () =>
    Effect.gen(function* () {
      const decoded = yield* decodeAnswer("createAcmeCertificate", CertificateDetail, pending)
      assert.deepStrictEqual(decoded, {
        hostname: "example.com",
        configured: false,
        acme_requested: true,
        status: "pending_validation",
        rate_limited_until: null,
        dns_requirements: pending.dns_requirements,
        validation_errors: [],
      })
    }),
  )

  it.effect("the issued answer of check decodes: certificates, validation and dns_records are tolerated", () =>
    Effect.gen(function* () {
      const decoded = yield* decodeAnswer("checkCertificate", CertificateDetail, issued)
      assert.strictEqual(decoded.status, "active")
      assert.strictEqual(decoded.configured, true)
      assert.deepStrictEqual(decoded.dns_requirements?.cname, "my-app-name.fly.dev")
    }),
  )

  it.effect("a validation error as Fly reports it decodes, and missing optional fields are tolerated", () =>
    Effect.gen(function* () {
      const failing = yield* decodeAnswer("getCertificate", CertificateDetail, {
        ...pending,
        validation_errors: [
          { code: "CAA_RECORD_MISSING_FLY", message: "CAA records do not allow Let's Encrypt", remediation: null },
        ],
      })
      assert.strictEqual(failing.validation_errors?.[0]?.code, "CAA_RECORD_MISSING_FLY")
      const bare = yield* decodeAnswer("getCertificate", CertificateDetail, {
        hostname: "example.com",
        status: "pending_validation",
        dns_requirements: { cname: null },
      })
      assert.deepStrictEqual(bare, {
        hostname: "example.com",
        status: "pending_validation",
        dns_requirements: { cname: null },
      })
    }),
  )

  it.effect("a detail without its status, or an ACME challenge without its target, fails naming the path", () =>
    Effect.gen(function* () {
      const noStatus = yield* Effect.flip(
        decodeAnswer("getCertificate", CertificateDetail, withoutKey(pending, "status")),
      )
      assert.strictEqual(noStatus._tag, "FlyDecodeError")
      assert.strictEqual(noStatus.path, "status")
      const badChallenge = yield* Effect.flip(
        decodeAnswer("getCertificate", CertificateDetail, {
          ...pending,
          dns_requirements: { ...pending.dns_requirements, acme_challenge: { name: "_acme-challenge.example.com" } },
        }),
      )
      assert.strictEqual(badChallenge.path, "dns_requirements.acme_challenge.target")
    }),
  )
})

describe("leases", () => {
  it("acquire (201), held (409), release (200)", () => {
    const acquired = decode(
      MachineLease,
      `{"status": "success",
        "data": {"nonce": "5c35f65c9f95", "expires_at": 1708569778, "owner": "hello@fly.io",
                 "description": "", "version": "01HQ73A7BFFDF1B6WMGHFZZ4E7"}}`,
    )
    assert.deepStrictEqual(acquired.data, {
      nonce: "5c35f65c9f95",
      expires_at: 1708569778,
      owner: "hello@fly.io",
      description: "",
      version: "01HQ73A7BFFDF1B6WMGHFZZ4E7",
    })
    const held = decode(
      MachineLease,
      `{"status": "error", "code": "invalid",
        "message": "machine ID 3d8d413b29d089 lease currently held by hello@fly.io, expires at 2022-10-20 19:59:06 +0000 UTC"}`,
    )
    assert.strictEqual(held.code, "invalid")
    assert.deepStrictEqual(decode(MachineLease, `{"status": "success", "data": {"ok": true}}`).data, { ok: true })
  })
})

describe("error bodies", () => {
  it("decode", () => {
    assert.deepStrictEqual(
      decode(ErrorResponse, `{"error": "Validation failed: Name has already been taken", "status": "name_taken"}`),
      {
        error: "Validation failed: Name has already been taken",
        status: "name_taken",
      },
    )
    assert.deepStrictEqual(decode(ErrorResponse, `{"error": "out of capacity", "status": "insufficient_capacity"}`), {
      error: "out of capacity",
      status: "insufficient_capacity",
    })
    assert.deepStrictEqual(decode(ErrorResponse, `{"status": "error", "message": "lease held", "code": "invalid"}`), {
      status: "error",
      message: "lease held",
      code: "invalid",
    })
  })

  const cases: ReadonlyArray<readonly [number, string, string]> = [
    [422, `{"error": "Validation failed: Name has already been taken", "status": "name_taken"}`, "FlyNameTaken"],
    [
      422,
      `{"error":"Validation failed: Name under 63 chars using numbers, lowercase letters and dashes"}`,
      "FlyInvalid",
    ],
    [503, `{"error":"out of capacity","status":"insufficient_capacity"}`, "FlyCapacity"],
    [404, `{"error":"app not found"}`, "FlyNotFound"],
    [401, `{"error": "Authenticate: token validation error"}`, "FlyUnauthorized"],
    [403, `{"error":"unauthorized"}`, "FlyUnauthorized"],
    [
      409,
      `{"status": "error", "message": "machine ID 3d8d413b29d089 lease currently held", "code": "invalid"}`,
      "FlyConflict",
    ],
    [412, `{"error":"unable to start machine from current state"}`, "FlyConflict"],
    [400, `{"error":"json: cannot unmarshal array into Go value of type main.stopRequest"}`, "FlyInvalid"],
    [408, `{"error":"deadline exceeded"}`, "FlyTimeout"],
    [429, `{"error":"rate limit exceeded"}`, "FlyRateLimited"],
    [502, `<html>bad gateway</html>`, "FlyTransport"],
  ]
  for (const [status, body, tag] of cases) {
    it(`${status} ${body.slice(0, 40)} -> ${tag}`, () => {
      const error = errorFromResponse("createMachine", status, body, undefined)
      assert.strictEqual(error._tag, tag)
      assert.strictEqual(error.endpoint, "createMachine")
      assert.strictEqual(error.status, status)
    })
  }

  it("carries Fly's message, preferring `message` over `error`, and never quotes a non-JSON body", () => {
    assert.strictEqual(
      errorFromResponse(
        "createApp",
        422,
        `{"error":"Validation failed: Name has already been taken","status":"name_taken"}`,
        undefined,
      ).message,
      "createApp: Validation failed: Name has already been taken",
    )
    assert.strictEqual(
      errorFromResponse("getMachine", 409, `{"message":"held","error":"x"}`, undefined).message,
      "getMachine: held",
    )
    assert.strictEqual(
      errorFromResponse("getApp", 502, "<html>secret stuff</html>", undefined).message,
      "getApp: HTTP 502",
    )
  })
})

describe("decode failures", () => {
  it.effect("a missing or mistyped field is a FlyDecodeError naming its path", () =>
    Effect.gen(function* () {
      const missing = JSON.parse(machineCreateResponse)
      delete missing.config.image
      const error = yield* Effect.flip(decodeJson("getMachine", Machine, JSON.stringify(missing), 200))
      assert.strictEqual(error._tag, "FlyDecodeError")
      assert.strictEqual(error.path, "config.image")
      assert.strictEqual(error.status, 200)

      const mistyped = JSON.parse(frpsMachineRequest)
      mistyped.config.services[1].internal_port = "8443"
      const wrapped = { ...JSON.parse(machineCreateResponse), config: mistyped.config }
      const error2 = yield* Effect.flip(decodeJson("getMachine", Machine, JSON.stringify(wrapped), 200))
      assert.strictEqual(error2.path, "config.services.1.internal_port")

      const notJson = yield* Effect.flip(decodeJson("listRegions", RegionsResponse, "<html>", 200))
      assert.strictEqual(notJson._tag, "FlyDecodeError")
      assert.strictEqual(notJson.path, "")
    }),
  )
})
