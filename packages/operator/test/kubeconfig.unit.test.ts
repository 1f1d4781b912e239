import { once } from "node:events"
import { mkdir, mkdtemp, rename, rm, writeFile } from "node:fs/promises"
import { createServer, type IncomingHttpHeaders } from "node:http"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, Exit } from "effect"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { stringify } from "yaml"
import { tokenFromFile } from "../src/kube/bearerToken.ts"
import { KubeClient } from "../src/kube/kubeClient.ts"
import type { KubeconfigError } from "../src/kube/kubeconfigError.ts"
import type { KubeEndpoint } from "../src/kube/kubeEndpoint.ts"
import { loadDefaultEndpoint, loadKubeconfigFile } from "../src/kube/kubeEndpointLoader.ts"
import { Namespace } from "../src/kube/resourceType.ts"

let dir = ""
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "fto-kubeconfig-"))
})
afterEach(() => rm(dir, { recursive: true, force: true }))

const b64 = (text: string) => Buffer.from(text).toString("base64")

/** A kubeconfig with one context `ctx` joining cluster `c` and user `u`. */
const kubeconfig = (cluster: object, user: object, extra: object = {}) => ({
  apiVersion: "v1",
  kind: "Config",
  "current-context": "ctx",
  clusters: [{ name: "c", cluster }],
  users: [{ name: "u", user }],
  contexts: [{ name: "ctx", context: { cluster: "c", user: "u" } }],
  ...extra,
})

const writeKubeconfig = async (content: object, name = "config") => {
  const path = join(dir, name)
  await writeFile(path, stringify(content))
  return path
}

const load = (path: string) => Effect.runPromiseExit(loadKubeconfigFile(path))

const loaded = async (path: string): Promise<KubeEndpoint> => {
  const exit = await load(path)
  if (Exit.isFailure(exit)) throw new Error(`expected an endpoint, got ${String(exit.cause)}`)
  return exit.value
}

const problem = async (exit: Promise<Exit.Exit<unknown, KubeconfigError>>): Promise<string> => {
  const result = await exit
  if (Exit.isSuccess(result)) throw new Error("expected a KubeconfigError")
  const error = result.cause.reasons.find((reason) => reason._tag === "Fail")?.error
  expect(error?._tag).toBe("KubeconfigError")
  return error?.message ?? ""
}

const tokenOf = (endpoint: KubeEndpoint) => Effect.runPromise(endpoint.token)

describe("a kubeconfig file", () => {
  it("gives the current context's server, inline CA, client certificate and key", async () => {
    const endpoint = await loaded(
      await writeKubeconfig(
        kubeconfig(
          { server: "https://10.0.0.1:6443/", "certificate-authority-data": b64("CA PEM") },
          { "client-certificate-data": b64("CERT PEM"), "client-key-data": b64("KEY PEM") },
        ),
      ),
    )
    expect(endpoint.server).toBe("https://10.0.0.1:6443")
    expect(endpoint.tls.ca?.toString()).toBe("CA PEM")
    expect(endpoint.tls.cert?.toString()).toBe("CERT PEM")
    expect(endpoint.tls.key?.toString()).toBe("KEY PEM")
    expect(endpoint.tls.rejectUnauthorized).toBe(true)
    expect(endpoint.tls.servername).toBeUndefined()
    expect(await tokenOf(endpoint)).toBeUndefined()
  })

  it("reads CA, certificate, key and token files relative to the kubeconfig's own directory", async () => {
    await mkdir(join(dir, "pki"))
    await writeFile(join(dir, "pki", "ca.crt"), "CA FILE")
    await writeFile(join(dir, "pki", "client.crt"), "CERT FILE")
    await writeFile(join(dir, "pki", "client.key"), "KEY FILE")
    await writeFile(join(dir, "pki", "token"), "file-token\n")
    const endpoint = await loaded(
      await writeKubeconfig(
        kubeconfig(
          { server: "https://kube:6443", "certificate-authority": "pki/ca.crt" },
          { "client-certificate": "pki/client.crt", "client-key": "pki/client.key", tokenFile: "pki/token" },
        ),
      ),
    )
    expect(endpoint.tls.ca?.toString()).toBe("CA FILE")
    expect(endpoint.tls.cert?.toString()).toBe("CERT FILE")
    expect(endpoint.tls.key?.toString()).toBe("KEY FILE")
    expect(await tokenOf(endpoint)).toBe("file-token")
  })

  it("turns certificate checks off for insecure-skip-tls-verify and checks tls-server-name instead of the host", async () => {
    const insecure = await loaded(
      await writeKubeconfig(kubeconfig({ server: "https://kube", "insecure-skip-tls-verify": true }, {}), "a"),
    )
    expect(insecure.tls.rejectUnauthorized).toBe(false)
    const named = await loaded(
      await writeKubeconfig(kubeconfig({ server: "https://10.0.0.1", "tls-server-name": "kubernetes" }, {}), "b"),
    )
    expect(named.tls.servername).toBe("kubernetes")
    expect(named.tls.rejectUnauthorized).toBe(true)
  })

  it("sends the token over tokenFile when both are set, as kubectl does", async () => {
    await writeFile(join(dir, "token"), "from-file")
    const endpoint = await loaded(
      await writeKubeconfig(kubeconfig({ server: "https://kube" }, { token: "inline", tokenFile: "token" })),
    )
    expect(await tokenOf(endpoint)).toBe("inline")
  })

  it.each(["exec", "auth-provider"])(
    "refuses a user with %s, naming the field and what to use instead",
    async (field) => {
      const message = await problem(
        load(
          await writeKubeconfig(
            kubeconfig({ server: "https://kube" }, { [field]: { command: "aws", name: "oidc", apiVersion: "v1" } }),
          ),
        ),
      )
      expect(message).toContain(`users[u].user.${field} is not supported`)
      expect(message).toContain("token")
      expect(message).toContain("client certificate")
    },
  )

  it("says what is wrong with a context that leads nowhere, a key-less certificate or a field of the wrong type", async () => {
    expect(
      await problem(load(await writeKubeconfig(kubeconfig({ server: "https://kube" }, {}, { "current-context": "" })))),
    ).toContain("current-context is not set")
    expect(
      await problem(
        load(
          await writeKubeconfig({
            ...kubeconfig({ server: "https://kube" }, {}),
            contexts: [{ name: "ctx", context: { cluster: "other", user: "u" } }],
          }),
        ),
      ),
    ).toContain('contexts[ctx].cluster: "other" names no entry in clusters')
    expect(await problem(load(await writeKubeconfig(kubeconfig({}, {}))))).toContain(
      "clusters[c].cluster.server is not set",
    )
    expect(
      await problem(
        load(await writeKubeconfig(kubeconfig({ server: "https://kube" }, { "client-certificate-data": b64("C") }))),
      ),
    ).toContain("a client certificate needs its key")
    expect(
      await problem(
        load(await writeKubeconfig(kubeconfig({ server: "https://kube", "insecure-skip-tls-verify": "yes" }, {}))),
      ),
    ).toContain("clusters.0.cluster.insecure-skip-tls-verify")
    expect(await problem(load(join(dir, "missing")))).toContain(`cannot read the kubeconfig ${join(dir, "missing")}`)
    expect(
      await problem(load(await writeKubeconfig(kubeconfig({ server: "https://kube" }, { tokenFile: "absent" })))),
    ).toContain("users[u].user.tokenFile")
  })
})

describe("a token file", () => {
  it("is read again when the kubelet swaps it or it is rewritten, and not otherwise", async () => {
    const path = join(dir, "token")
    await writeFile(path, "first\n")
    const token = tokenFromFile(path)
    expect(await Effect.runPromise(token)).toBe("first")
    // The kubelet writes the new token beside the old and renames it over (a new inode).
    await writeFile(join(dir, "token.new"), "second\n")
    await rename(join(dir, "token.new"), path)
    expect(await Effect.runPromise(token)).toBe("second")
    // Rewritten in place, with another length.
    await writeFile(path, "third-token\n")
    expect(await Effect.runPromise(token)).toBe("third-token")
    expect(await Effect.runPromise(token)).toBe("third-token")
  })

  it("that has gone fails the request, not the process", async () => {
    const path = join(dir, "token")
    await writeFile(path, "first")
    const token = tokenFromFile(path)
    await Effect.runPromise(token)
    await rm(path)
    const exit = await Effect.runPromiseExit(token)
    expect(Exit.isFailure(exit) && String(exit.cause)).toContain("KubeUnavailable")
  })
})

describe("the default kubeconfig", () => {
  const serviceAccount = async () => {
    const sa = join(dir, "serviceaccount")
    await mkdir(sa)
    await writeFile(join(sa, "ca.crt"), "CLUSTER CA")
    await writeFile(join(sa, "token"), "sa-token\n")
    return sa
  }
  const loadDefault = (env: NodeJS.ProcessEnv, serviceAccountDir: string) =>
    Effect.runPromiseExit(loadDefaultEndpoint({ env, home: join(dir, "home"), serviceAccountDir }))

  it("merges the files in KUBECONFIG as kubectl does: the first to set a value wins", async () => {
    const first = await writeKubeconfig(
      {
        "current-context": "ctx",
        contexts: [{ name: "ctx", context: { cluster: "c", user: "u" } }],
        users: [{ name: "u", user: { token: "first" } }],
      },
      "first",
    )
    const second = await writeKubeconfig(
      kubeconfig({ server: "https://second" }, { token: "second" }, { "current-context": "other" }),
      "second",
    )
    const exit = await loadDefault({ KUBECONFIG: [join(dir, "absent"), first, second].join(":") }, join(dir, "none"))
    if (Exit.isFailure(exit)) throw new Error(String(exit.cause))
    expect(exit.value.server).toBe("https://second")
    expect(await tokenOf(exit.value)).toBe("first")
  })

  it("takes ~/.kube/config when KUBECONFIG is not set, before the service account", async () => {
    await mkdir(join(dir, "home", ".kube"), { recursive: true })
    await writeFile(join(dir, "home", ".kube", "config"), stringify(kubeconfig({ server: "https://home" }, {})))
    const exit = await loadDefault(
      { KUBERNETES_SERVICE_HOST: "10.96.0.1", KUBERNETES_SERVICE_PORT: "443" },
      await serviceAccount(),
    )
    expect(Exit.isSuccess(exit) && exit.value.server).toBe("https://home")
  })

  it("in a Pod, uses the service account: the kubernetes Service's address, its CA and its token", async () => {
    const sa = await serviceAccount()
    const exit = await loadDefault({ KUBERNETES_SERVICE_HOST: "fd00::1", KUBERNETES_SERVICE_PORT: "443" }, sa)
    if (Exit.isFailure(exit)) throw new Error(String(exit.cause))
    expect(exit.value.server).toBe("https://[fd00::1]:443")
    expect(exit.value.tls.ca?.toString()).toBe("CLUSTER CA")
    expect(await tokenOf(exit.value)).toBe("sa-token")
    await writeFile(join(sa, "token.new"), "rotated")
    await rename(join(sa, "token.new"), join(sa, "token"))
    expect(await tokenOf(exit.value)).toBe("rotated")
  })

  it("with no kubeconfig and no service account, says what to set", async () => {
    expect(await problem(loadDefault({}, join(dir, "none")))).toContain("set KUBECONFIG or --kubeconfig")
  })
})

describe("the client's requests", () => {
  it("carry the current token of a rotating token file, and no token where the user has none", async () => {
    const seen: Array<IncomingHttpHeaders> = []
    const server = createServer((request, response) => {
      seen.push(request.headers)
      response.setHeader("content-type", "application/json")
      response.end(JSON.stringify({ metadata: { name: "default" } }))
    })
    server.listen(0, "127.0.0.1")
    await once(server, "listening")
    try {
      const server_ = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
      await writeFile(join(dir, "token"), "one")
      const withToken = await writeKubeconfig(kubeconfig({ server: server_ }, { tokenFile: "token" }), "token-config")
      const anonymous = await writeKubeconfig(kubeconfig({ server: server_ }, {}), "anonymous-config")
      const get = (path: string) =>
        Effect.runPromise(
          KubeClient.use((kube) => kube.get(Namespace, "default")).pipe(
            Effect.provide(KubeClient.layerFromFile(path)),
            Effect.scoped,
          ),
        )
      await get(withToken)
      await writeFile(join(dir, "token.new"), "two")
      await rename(join(dir, "token.new"), join(dir, "token"))
      await get(withToken)
      await get(anonymous)
      expect(seen.map((headers) => headers.authorization)).toEqual(["Bearer one", "Bearer two", undefined])
    } finally {
      server.closeAllConnections()
      server.close()
    }
  })
})
