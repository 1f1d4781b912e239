import { createServer } from "node:net"
import { Reasons } from "@fly-tunnel-operator/api"
import type { Machine } from "@fly-tunnel-operator/fly"
import { Effect, Layer } from "effect"
import { describe, expect, it } from "vitest"
import type { TunnelMachine } from "../src/tunnel/flyMachines.ts"
import { checkFrpsCertificates } from "../src/tunnel/frpsCertificateCheck.ts"
import { dialAsFrpc, FrpsDialer } from "../src/tunnel/frpsDialer.ts"
import type { TunnelTls } from "../src/tunnel/tunnelCertificates.ts"

const tunnel = { namespace: "default", name: "web", uid: "0b7c4d1e-1111-4222-8333-944455556666" }
const tls: TunnelTls = {
  trustPem: "ca",
  server: { certPem: "server", keyPem: "server-key" },
  client: { certPem: "client", keyPem: "client-key" },
}
const machine = (id: string, status: string, controlPort: number): TunnelMachine => ({
  machine: {
    id,
    name: id,
    state: "started",
    region: "ord",
    instance_id: `${id}-instance`,
    checks: [{ name: "tcp-7901", status }],
  } satisfies Machine,
  slot: { region: "ord", role: "tcp" },
  controlPort,
  current: true,
})

/** A dialer that answers each port as told and counts the dials. */
const dialer = (answers: Readonly<Record<number, string | undefined>>) => {
  const dialled: Array<number> = []
  const layer = Layer.succeed(
    FrpsDialer,
    FrpsDialer.of({
      handshake: (options) =>
        Effect.sync(() => {
          dialled.push(options.port ?? 0)
          return answers[options.port ?? 0]
        }),
    }),
  )
  return { dialled, layer }
}

describe("the frps certificate check", () => {
  it("names a certificate that does not verify on ClientReady, as a block that is retried", async () => {
    const { dialled, layer } = dialer({ 7000: "the certificate does not verify (self-signed certificate)" })
    const blocked = await Effect.runPromise(
      checkFrpsCertificates(tunnel, "203.0.113.7", [machine("m1", "critical", 7000)], tls).pipe(
        Effect.flip,
        Effect.provide(layer),
      ),
    )
    expect(dialled).toEqual([7000])
    expect(blocked).toMatchObject({
      condition: "ClientReady",
      reason: Reasons.CertificateVerificationFailed,
      retry: true,
    })
    expect(blocked.message).toContain("203.0.113.7:7000 (Machine m1): the certificate does not verify")
  })

  it("concludes nothing from a dial that got no certificate, and dials no Machine whose checks pass", async () => {
    const { dialled, layer } = dialer({})
    await Effect.runPromise(
      checkFrpsCertificates(
        tunnel,
        "203.0.113.7",
        [machine("m1", "critical", 7000), machine("m2", "passing", 7001)],
        tls,
      ).pipe(Effect.provide(layer)),
    )
    expect(dialled).toEqual([7000])
  })

  it("a refused connection is no verdict on a certificate", async () => {
    // A port that was just listening on loopback and is closed now: the dial is refused.
    const server = createServer()
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()))
    const { port } = server.address() as { port: number }
    await new Promise<void>((resolve) => server.close(() => resolve()))
    expect(await dialAsFrpc({ host: "127.0.0.1", port, servername: "frps.invalid" })).toBeUndefined()
  })
})
