import { assert, describe, it } from "@effect/vitest"
import { Redacted } from "effect"
import { authorizationHeader } from "../src/index.ts"

const header = (token: string) => Redacted.value(authorizationHeader(Redacted.make(token)))

describe("authorizationHeader (fly-go tokens.normalized)", () => {
  const cases: ReadonlyArray<readonly [string, string]> = [
    ["fm2_abc", "FlyV1 fm2_abc"],
    ["fm1r_abc", "FlyV1 fm1r_abc"],
    ["fm1a_abc", "FlyV1 fm1a_abc"],
    ["fm2_a,fm2_b", "FlyV1 fm2_a,fm2_b"],
    ["FlyV1 fm2_a,fm2_b", "FlyV1 fm2_a,fm2_b"],
    ["Bearer FlyV1 fm2_abc", "FlyV1 fm2_abc"],
    ["flyv1 fm2_abc", "FlyV1 fm2_abc"],
    ["fm2_a, fo1_user", "FlyV1 fm2_a"],
    ["fo1_usertoken", "Bearer fo1_usertoken"],
    ["Bearer plainoauth", "Bearer plainoauth"],
    ["  plainoauth \n", "Bearer plainoauth"],
    ["fm3_future", "Bearer fm3_future"],
  ]
  for (const [token, expected] of cases) {
    it(`${JSON.stringify(token)} -> ${expected}`, () => {
      assert.strictEqual(header(token), expected)
    })
  }

  it("stays redacted when printed", () => {
    const redacted = authorizationHeader(Redacted.make("fm2_secret"))
    assert.notInclude(String(redacted), "fm2_secret")
    assert.notInclude(JSON.stringify({ redacted }), "fm2_secret")
  })
})
