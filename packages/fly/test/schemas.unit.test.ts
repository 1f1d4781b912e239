import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Schema } from "effect"
import {
  App,
  CreateAppRequest,
  CreateAppResponse,
  CreateMachineRequest,
  decodeJson,
  ErrorResponse,
  errorFromResponse,
  IpAssignment,
  ListIpAssignmentsResponse,
  Machine,
  MachineConfig,
  RegionsResponse,
  SetSecretsResponse,
  WaitMachineResponse,
} from "../src/index.ts"

// Examples of Fly's answers as its documentation and its Go client show them (sections of the Machines API noted).
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

// §3.2, the constructed example for our use case.
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

describe("apps (§2)", () => {
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
        "organization": {"name": "My Org", "slug": "personal"}}`,
    )
    assert.deepStrictEqual(app, {
      id: "jlyv9r5d56v18xrg",
      name: "my-app-name",
      status: "pending",
      organization: { name: "My Org", slug: "personal" },
    })
  })
})

describe("machines (§3)", () => {
  it("create response (docs example)", () => {
    const machine = decode(Machine, machineCreateResponse)
    assert.strictEqual(machine.id, "1857156b526dd8")
    assert.strictEqual(machine.state, "created")
    assert.strictEqual(machine.instance_id, "01HEPA330HZ37A78TK080NAK1M")
    assert.strictEqual(machine.private_ip, "fdaa:ff:ff:a7b:195:e229:8038:2")
    assert.strictEqual(machine.config.restart?.policy, "always")
    assert.deepStrictEqual(machine.events, [
      { type: "launch", status: "created", source: "user", timestamp: 1699408350300 },
    ])
  })

  it("keeps unknown config fields, so a config read from Fly can be sent back whole", () => {
    const machine = decode(Machine, machineCreateResponse)
    assert.deepStrictEqual(machine.config.dns, {})
    const encoded = Schema.encodeSync(MachineConfig)(machine.config)
    assert.deepStrictEqual(encoded, JSON.parse(machineCreateResponse).config)
  })

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

describe("IP assignments (§5.1), secrets (§9), regions (§10)", () => {
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

  it("regions", () => {
    const response = decode(
      RegionsResponse,
      `{"nearest": "iad",
        "regions": [{"code": "iad", "name": "Ashburn, Virginia (US)", "deprecated": false, "gateway_available": true,
                     "geo_region": "…", "latitude": 0, "longitude": 0, "mpg_available": true, "requires_paid_plan": false}]}`,
    )
    assert.strictEqual(response.nearest, "iad")
    assert.deepStrictEqual(response.regions[0], {
      code: "iad",
      name: "Ashburn, Virginia (US)",
      deprecated: false,
      gateway_available: true,
      requires_paid_plan: false,
    })
  })
})

describe("error bodies (§1.2, §2, §3.8, §8.3)", () => {
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
