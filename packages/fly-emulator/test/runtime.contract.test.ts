import { randomBytes } from "node:crypto"
import { Effect, Layer, ManagedRuntime } from "effect"
import { afterAll, afterEach, describe, expect, inject, it } from "vitest"
import { EmulatorNetwork } from "../src/network/emulatorNetwork.ts"
import { networkLayer } from "../src/network/networkLayer.ts"
import { type MachineExit, type MachineLaunch, MachineRuntime } from "../src/runtime/machineRuntime.ts"
import { base64, eventually, expectNoSecret, killChildren, roundTrip, startFrpc } from "./runtimeHelpers.ts"

const tools = inject("tools")
const runtime = ManagedRuntime.make(
  MachineRuntime.layer({ binaries: { frps: tools.frps } }).pipe(Layer.provideMerge(networkLayer("namespace"))),
)
const run = <A, E>(effect: Effect.Effect<A, E, MachineRuntime | EmulatorNetwork>) => runtime.runPromise(effect)
afterEach(killChildren)
afterAll(() => runtime.dispose())

const token = randomBytes(24).toString("hex")
const frpsToml = `
bindPort = {{ .Envs.BIND_PORT }}
auth.tokenSource.type = "file"
auth.tokenSource.file.path = "/etc/frp/token"
transport.tls.force = true
allowPorts = [{ single = 6000 }]
log.level = "debug"
log.disablePrintColor = true
`

let machines = 0
/** A launch of an frps machine with its config as a raw file, the token as a secret file, the port from env. */
const frpsLaunch = (overrides: Partial<MachineLaunch> = {}) =>
  Effect.gen(function* () {
    const id = `${(++machines).toString(16).padStart(4, "0")}${randomBytes(5).toString("hex")}`
    const place = yield* EmulatorNetwork.use((network) => network.allocateMachineAddress(id))
    return {
      id,
      app: "frp-runtime-test",
      instanceId: "01JTESTVERSION0000000000000",
      image: "registry.example/frps:v0.71.0",
      region: "iad",
      privateIp: "fdaa:0:1:a7b:1::2",
      config: {
        image: "registry.example/frps:v0.71.0",
        init: { cmd: ["-c", "/etc/frp/frps.toml"] },
        files: [
          { guest_path: "/etc/frp/frps.toml", raw_value: base64(frpsToml) },
          { guest_path: "/etc/frp/token", secret_name: "FRP_TOKEN_FILE" },
        ],
      },
      env: { BIND_PORT: "7100" },
      secrets: { FRP_TOKEN_FILE: base64(token) },
      place,
      ...overrides,
    } satisfies MachineLaunch
  })

const frpcToml = (serverAddr: string, secret: string) => `
serverAddr = "${serverAddr}"
serverPort = 7100
loginFailExit = false
auth.token = "${secret}"
transport.tls.enable = true
log.disablePrintColor = true
[[proxies]]
name = "echo"
type = "tcp"
localIP = "127.0.0.1"
localPort = 9
remotePort = 6000
`

describe("machine runtime", () => {
  it("runs real frps in the machine's namespace with its files, secret file and env; stop ends it", async () => {
    const exits: Array<MachineExit> = []
    const launch = await run(frpsLaunch())
    await run(MachineRuntime.use((machines) => machines.start(launch, (exit) => exits.push(exit))))
    const log = () => run(MachineRuntime.use((machines) => machines.log(launch.id)))
    await eventually(async () => ((await log()).includes("frps started successfully") ? true : undefined))
    expect(await log()).toContain("frps tcp listen on 0.0.0.0:7100")

    // The token came from the secret file: a frpc with it logs in over TLS, one without is refused.
    const good = startFrpc(tools.frpc, frpcToml(launch.place.address, token))
    await eventually(() => (good.log().includes("login to server success") ? true : undefined))
    const bad = startFrpc(tools.frpc, frpcToml(launch.place.address, "not-the-token"))
    await eventually(() => (bad.log().includes("token in login doesn't match") ? true : undefined))
    expectNoSecret(await log(), token)

    await run(MachineRuntime.use((machines) => machines.stop(launch.id, { signal: "SIGTERM", timeoutMs: 10_000 })))
    expect(await run(MachineRuntime.use((machines) => Effect.succeed(machines.isRunning(launch.id))))).toBe(false)
    expect(await roundTrip(launch.place.address, 7100, "x", 1)).toMatch(/^error: connect ECONNREFUSED/)
    expect(exits).toEqual([])
  })

  it("reports an exit it did not ask for", async () => {
    const exits: Array<MachineExit> = []
    // frps refuses unknown keys (strict config) and exits 1.
    const launch = await run(
      frpsLaunch({
        config: {
          image: "frps",
          init: { exec: ["/usr/bin/frps", "--config=/etc/frp/frps.toml"] },
          files: [{ guest_path: "/etc/frp/frps.toml", raw_value: base64("noSuchKey = 1\n") }],
        },
      }),
    )
    await run(MachineRuntime.use((machines) => machines.start(launch, (exit) => exits.push(exit))))
    await eventually(() => exits[0])
    expect(exits).toEqual([{ exitCode: 1 }])
    expect(await run(MachineRuntime.use((machines) => machines.log(launch.id)))).toContain("noSuchKey")
  })

  it("exits 127 when the image cannot run the command, and runs nothing for unknown images", async () => {
    const exits: Array<MachineExit> = []
    const shell = await run(frpsLaunch({ config: { image: "frps", init: { exec: ["/bin/sh", "-c", "true"] } } }))
    await run(MachineRuntime.use((machines) => machines.start(shell, (exit) => exits.push(exit))))
    expect(exits).toEqual([{ exitCode: 127 }])

    const ubuntu = await run(frpsLaunch({ image: "ubuntu:latest", config: { image: "ubuntu:latest" } }))
    await run(MachineRuntime.use((machines) => machines.start(ubuntu, (exit) => exits.push(exit))))
    expect(await run(MachineRuntime.use((machines) => Effect.succeed(machines.isRunning(ubuntu.id))))).toBe(false)
    expect(await run(MachineRuntime.use((machines) => machines.log(ubuntu.id)))).toBe("")
  })

  it("fails the boot, naming the secret, when a file's secret is missing", async () => {
    const launch = await run(frpsLaunch({ secrets: {} }))
    const error = await run(MachineRuntime.use((machines) => machines.start(launch, () => {})).pipe(Effect.flip))
    expect(error.message).toContain("FRP_TOKEN_FILE")
  })
})
