import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import type { V1Deployment } from "@kubernetes/client-node"
import { Effect } from "effect"
import { inject } from "vitest"
import { chartDir, minimalValues, toolsOrFail } from "./chart.ts"
import { runCommandOk } from "./command.ts"
import { adoptCrdForRelease, makeKubectl, scopedNamespace } from "./kubectl.ts"
import { startOciRegistry } from "./ociRegistry.ts"

const tools = toolsOrFail()
const { kubeconfigPath } = inject("controlPlane")
const kubectl = makeKubectl(tools.kubectl, kubeconfigPath)
const helm = (args: ReadonlyArray<string>) =>
  runCommandOk(tools.helm, ["--kubeconfig", kubeconfigPath, ...args]).pipe(Effect.orDie)

/** What the release workflow does on tag v9.9.9-oci: chart version and appVersion both from the tag. */
const version = "9.9.9-oci"

describe("the chart as an OCI artifact (the release workflow's path, on a loopback registry)", () => {
  // it.live: the registry is polled on the real clock until it answers.
  it.live("helm package + helm push to the registry, then helm install oci://… creates the release's objects", () =>
    Effect.gen(function* () {
      const registry = yield* startOciRegistry(tools.registry)
      const dist = yield* Effect.acquireRelease(
        Effect.promise(() => mkdtemp(join(tmpdir(), "fto-chart-dist-"))),
        (dir) => Effect.promise(() => rm(dir, { recursive: true, force: true })),
      )
      yield* helm(["package", chartDir, "--version", version, "--app-version", version, "--destination", dist])
      const pushed = yield* helm([
        "push",
        join(dist, `fly-tunnel-operator-${version}.tgz`),
        `oci://${registry.host}/charts`,
        "--plain-http",
      ])
      expect(pushed.stdout + pushed.stderr).toContain(`Pushed: ${registry.host}/charts/fly-tunnel-operator:${version}`)
      const reference = `oci://${registry.host}/charts/fly-tunnel-operator`

      const shown = yield* helm(["show", "chart", reference, "--version", version, "--plain-http"])
      expect(shown.stdout).toContain(`version: ${version}`)
      expect(shown.stdout).toContain(`appVersion: ${version}`)

      const namespace = yield* scopedNamespace(kubectl, "fto-oci")
      const release = `fto-oci-${namespace.slice(-8)}`
      yield* Effect.addFinalizer(() =>
        runCommandOk(tools.helm, ["--kubeconfig", kubeconfigPath, "uninstall", release, "--namespace", namespace]).pipe(
          Effect.ignore,
        ),
      )
      yield* adoptCrdForRelease(kubectl, release, namespace)
      const installed = yield* helm([
        "install",
        release,
        reference,
        "--version",
        version,
        "--plain-http",
        "--namespace",
        namespace,
        "--set",
        `flyOrg=${minimalValues.flyOrg},flyApiToken=${minimalValues.flyApiToken}`,
      ])
      expect(installed.stdout).toContain("STATUS: deployed")

      const listed = yield* helm(["list", "--namespace", namespace, "--output", "json"])
      expect(JSON.parse(listed.stdout)).toMatchObject([
        { name: release, chart: `fly-tunnel-operator-${version}`, app_version: version, status: "deployed" },
      ])
      const fullname = `${release}-fly-tunnel-operator`
      const deployment = JSON.parse(
        (yield* kubectl.ok(["get", "deployment", fullname, "--namespace", namespace, "-o", "json"])).stdout,
      ) as V1Deployment
      // The image tag defaults to the chart's appVersion: the published chart pulls the image of its own release.
      expect(deployment.spec?.template.spec?.containers[0]?.image).toBe(
        `ghcr.io/fly-tunnel-operator/fly-tunnel-operator:${version}`,
      )
      const objects = yield* kubectl.ok([
        "get",
        "serviceaccount,secret,service,role,rolebinding,clusterrole,clusterrolebinding,crd",
        "--all-namespaces",
        "--selector",
        `app.kubernetes.io/instance=${release}`,
        "-o",
        "name",
      ])
      expect(objects.stdout.trim().split("\n").sort()).toEqual(
        [
          `clusterrole.rbac.authorization.k8s.io/${fullname}`,
          `clusterrolebinding.rbac.authorization.k8s.io/${fullname}`,
          "customresourcedefinition.apiextensions.k8s.io/flytunnels.fly-tunnel-operator.dev",
          `role.rbac.authorization.k8s.io/${fullname}`,
          `rolebinding.rbac.authorization.k8s.io/${fullname}`,
          `secret/${fullname}`,
          `service/${fullname}-metrics`,
          `serviceaccount/${fullname}`,
        ].sort(),
      )
    }),
  )
})
