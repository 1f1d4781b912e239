// The tunnel's Secret has one writer (tunnel/tunnelSecret.ts): every write is a server-side apply of the whole content
// under the tunnel controller's field manager, made from what the same pass wrote before it. A pass that issues the
// token and then renders frpc's configs cannot lose the one to the other, as a second writer with a stale copy (or a
// patch of one field) could. Counted from the in-memory API server's call log.
import { Effect, Schema } from "effect"
import { describe, expect, it } from "vitest"
import { FieldManager, KubeClient } from "../src/kube/kubeClient.ts"
import { FieldManagers } from "../src/kube/patches.ts"
import { FlyTunnel, type FlyTunnelObject, Secret } from "../src/kube/resourceType.ts"
import { frpcObjectName } from "../src/tunnel/tunnelNames.ts"
import { configKey, secretContent, TlsKeys, TOKEN_KEY } from "../src/tunnel/tunnelSecret.ts"
import { type FastOperator, OPERATOR_NAMESPACE, startFastOperator, until } from "./support/fastHarness.ts"

const WRITES = new Set(["create", "replace", "delete", "apply", "applyStatus", "mergePatch"])
const TLS_KEYS = Object.values(TlsKeys)

/** The part of a logged Secret write the test reads. */
const decodeSecretBody = Schema.decodeUnknownSync(
  Schema.Struct({ data: Schema.optionalKey(Schema.Record(Schema.String, Schema.String)) }),
)

const flyTunnel = (regions: ReadonlyArray<string>): FlyTunnelObject => ({
  metadata: { name: "web", namespace: "default" },
  spec: { target: { address: { host: "10.0.0.5" } }, ports: [{ name: "http", port: 80 }], regions },
})

const asUser = <A, E>(operator: FastOperator, effect: Effect.Effect<A, E, KubeClient>) =>
  operator.run(effect.pipe(Effect.provideService(FieldManager, "test")))

const tunnelOf = (operator: FastOperator) =>
  operator.kube.objects(FlyTunnel, "default").find((item) => item.metadata?.name === "web")

/** The Secret's stored data once it holds a config for exactly `regions` and the tunnel is Ready on them. */
const settled = (operator: FastOperator, name: string, regions: ReadonlyArray<string>) =>
  until(`the Secret with the configs of ${regions.join(", ")}`, () => {
    const tunnel = tunnelOf(operator)
    const secret = operator.kube.objects(Secret, OPERATOR_NAMESPACE).find((item) => item.metadata?.name === name)
    const configs = Object.keys(secret === undefined ? {} : secretContent(secret).configs).sort()
    return tunnel?.status?.phase === "Ready" &&
      tunnel.status.observedGeneration === tunnel.metadata?.generation &&
      JSON.stringify(configs) === JSON.stringify([...regions].sort())
      ? secret?.data
      : undefined
  })

/** The data each write of the Secret sent, with how it was sent. */
const writesOf = (operator: FastOperator, name: string) =>
  operator.kube
    .calls()
    .filter((call) => call.kind === "Secret" && call.name === name && WRITES.has(call.verb))
    .map((call) => ({
      verb: call.verb,
      fieldManager: call.fieldManager,
      data: decodeSecretBody(call.body ?? {}).data ?? {},
    }))

describe("the tunnel Secret's one writer (fast tier)", () => {
  it("a pass issues the token, then frpc's configs: the Secret keeps both, each write a whole apply by one manager", async () => {
    const operator = await startFastOperator()
    try {
      operator.startControllers()
      await asUser(
        operator,
        KubeClient.use((kube) => kube.create(FlyTunnel, flyTunnel(["ord"]))),
      )
      const uid = await until("the tunnel's uid", () => tunnelOf(operator)?.metadata?.uid)
      const name = frpcObjectName({ uid })
      // Up to the write that brought frpc's config (the same pass issued the token before it).
      const withConfig = await until("the write of frpc's config", () => {
        const index = writesOf(operator, name).findIndex((write) => configKey("ord") in write.data)
        return index < 0 ? undefined : index
      })
      const writes = writesOf(operator, name).slice(0, withConfig + 1)
      // The token is issued (with the certificates) before any config exists; the config follows in a later write.
      expect(writes.length).toBeGreaterThanOrEqual(2)
      expect(Object.keys(writes[0]?.data ?? {}).sort()).toEqual([TOKEN_KEY, ...TLS_KEYS].sort())
      const token = writes[0]?.data[TOKEN_KEY]
      expect(Buffer.from(token ?? "", "base64").toString()).toMatch(/^[0-9a-f]{64}$/)
      // One path: server-side applies by the tunnel controller, each the whole content, none undoing the token.
      for (const write of writes) {
        expect(write).toMatchObject({ verb: "apply", fieldManager: FieldManagers.tunnel })
        expect(write.data[TOKEN_KEY]).toBe(token)
        for (const key of TLS_KEYS) expect(write.data[key]).toBe(writes[0]?.data[key])
      }
      const first = await settled(operator, name, ["ord"])
      const all = writesOf(operator, name)
      expect(all.slice(writes.length).every((write) => write.data[TOKEN_KEY] === token)).toBe(true)
      expect(first).toEqual(all.at(-1)?.data)
      expect(first?.[TOKEN_KEY]).toBe(token)

      // A region added: its config joins the others and the token in one more whole apply; nothing is lost.
      await asUser(
        operator,
        KubeClient.use((kube) => kube.mergePatch(FlyTunnel, "web", "default", { spec: { regions: ["ord", "ams"] } })),
      )
      const second = await settled(operator, name, ["ams", "ord"])
      const later = writesOf(operator, name).slice(all.length)
      expect(later.length).toBeGreaterThanOrEqual(1)
      for (const write of later) {
        expect(write).toMatchObject({ verb: "apply", fieldManager: FieldManagers.tunnel })
        expect(write.data[TOKEN_KEY]).toBe(token)
        expect(write.data[configKey("ord")]).toBeDefined()
      }
      expect(second).toEqual(later.at(-1)?.data)
      expect(second?.[TOKEN_KEY]).toBe(token)
    } finally {
      await operator.close()
    }
  })
})
