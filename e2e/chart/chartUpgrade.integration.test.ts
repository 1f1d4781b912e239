import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { CHART_CRD_PATH, CRD_NAME, CRD_PATH } from "@fly-tunnel-operator/api"
import { dumpYaml, loadYaml, type V1CustomResourceDefinition } from "@kubernetes/client-node"
import { Effect } from "effect"
import { inject } from "vitest"
import { chartDir, minimalValues, repoRoot, toolsOrFail } from "./chart.ts"
import { runCommandOk } from "./command.ts"
import { adoptCrdForRelease, makeKubectl, scopedNamespace } from "./kubectl.ts"

const tools = toolsOrFail()
const { kubeconfigPath } = inject("controlPlane")
const kubectl = makeKubectl(tools.kubectl, kubeconfigPath)
const helm = (args: ReadonlyArray<string>) =>
  runCommandOk(tools.helm, ["--kubeconfig", kubeconfigPath, ...args]).pipe(Effect.orDie)
const values = ["--set", `flyOrg=${minimalValues.flyOrg},flyApiToken=${minimalValues.flyApiToken}`]

/** A copy of the chart as an older release would ship it: version 0.0.9, its CRD without spec.frpc.nodeSelector. */
const olderChart = Effect.gen(function* () {
  const dir = yield* Effect.acquireRelease(
    Effect.promise(() => mkdtemp(join(tmpdir(), "fto-older-chart-"))),
    (path) => Effect.promise(() => rm(path, { recursive: true, force: true })),
  )
  const chart = join(dir, "fly-tunnel-operator")
  yield* Effect.promise(() => cp(chartDir, chart, { recursive: true }))
  const crdFile = join(chart, CHART_CRD_PATH.replace("charts/fly-tunnel-operator/", ""))
  const crd = loadYaml(yield* Effect.promise(() => readFile(crdFile, "utf8"))) as V1CustomResourceDefinition
  const frpc = crd.spec.versions[0]?.schema?.openAPIV3Schema?.properties?.spec?.properties?.frpc
  expect(frpc?.properties?.nodeSelector, "the field this test removes is in the CRD").toBeDefined()
  delete frpc?.properties?.nodeSelector
  yield* Effect.promise(() => writeFile(crdFile, dumpYaml(crd)))
  const chartYaml = join(chart, "Chart.yaml")
  const metadata = yield* Effect.promise(() => readFile(chartYaml, "utf8"))
  yield* Effect.promise(() => writeFile(chartYaml, metadata.replace(/^version: .*$/m, "version: 0.0.9")))
  return chart
})

const tunnel = (namespace: string) => ({
  apiVersion: "fly-tunnel-operator.dev/v1alpha1",
  kind: "FlyTunnel",
  metadata: { name: "nas", namespace },
  spec: {
    target: { address: { host: "192.168.2.20" } },
    ports: [{ name: "https", port: 443 }],
    regions: ["ord"],
    frpc: { replicas: 1, nodeSelector: { "kubernetes.io/os": "linux" } },
  },
})

const nodeSelectorOf = (namespace: string) =>
  kubectl
    .ok(["get", "flytunnel", "nas", "--namespace", namespace, "-o", "jsonpath={.spec.frpc.nodeSelector}"])
    .pipe(Effect.map((result) => result.stdout))

const crdHasNodeSelector = kubectl
  .ok([
    "get",
    "crd",
    CRD_NAME,
    "-o",
    "jsonpath={.spec.versions[0].schema.openAPIV3Schema.properties.spec.properties.frpc.properties}",
  ])
  .pipe(Effect.map((result) => "nodeSelector" in (JSON.parse(result.stdout) as object)))

describe("helm upgrade applies a changed CRD (the CRD is a template, not crds/)", () => {
  it.effect("a field the new CRD adds is kept on FlyTunnels after upgrade; before it, the API server prunes it", () =>
    Effect.gen(function* () {
      // Whatever happens, this shared control plane ends with the generated CRD (other files use it).
      yield* Effect.addFinalizer(() =>
        kubectl.run(["apply", "--server-side", "--force-conflicts", "-f", join(repoRoot, CRD_PATH)]),
      )
      const older = yield* olderChart
      const namespace = yield* scopedNamespace(kubectl, "fto-upgrade")
      const release = `fto-up-${namespace.slice(-8)}`
      yield* adoptCrdForRelease(kubectl, release, namespace)
      yield* helm(["install", release, older, "--namespace", namespace, ...values])
      expect(yield* crdHasNodeSelector).toBe(false)

      // Written without client-side validation, as a controller or a GitOps tool would: the server prunes.
      yield* kubectl.ok(["create", "--validate=false", "-f", "-"], JSON.stringify(tunnel(namespace)))
      expect(yield* nodeSelectorOf(namespace)).toBe("")

      const upgraded = yield* helm(["upgrade", release, chartDir, "--namespace", namespace, ...values])
      expect(upgraded.stdout).toContain("STATUS: deployed")
      expect(yield* crdHasNodeSelector).toBe(true)
      yield* kubectl.ok(["wait", "--for=condition=Established", "--timeout=60s", `crd/${CRD_NAME}`])

      yield* kubectl.ok(["apply", "--validate=false", "-f", "-"], JSON.stringify(tunnel(namespace)))
      expect(JSON.parse(yield* nodeSelectorOf(namespace))).toEqual({ "kubernetes.io/os": "linux" })

      // helm.sh/resource-policy: keep — uninstalling leaves the CRD and the FlyTunnel.
      yield* helm(["uninstall", release, "--namespace", namespace])
      expect((yield* kubectl.ok(["get", "crd", CRD_NAME, "-o", "name"])).stdout.trim()).toBe(
        `customresourcedefinition.apiextensions.k8s.io/${CRD_NAME}`,
      )
      expect(JSON.parse(yield* nodeSelectorOf(namespace))).toEqual({ "kubernetes.io/os": "linux" })
      yield* kubectl.ok(["delete", "flytunnel", "nas", "--namespace", namespace, "--wait=false"])
    }),
  )
})
