import { describe, expect, it } from "@effect/vitest"
import type { V1Deployment } from "@kubernetes/client-node"
import { Effect } from "effect"
import { inject } from "vitest"
import { chartDir, helmTemplate, type Manifest, minimalValues, only, renderChart, toolsOrFail } from "./chart.ts"
import { runCommand } from "./command.ts"
import { adoptCrdForRelease, type Kubectl, makeKubectl, scopedNamespace } from "./kubectl.ts"

const tools = toolsOrFail()
const { kubeconfigPath } = inject("controlPlane")
const kubectl = makeKubectl(tools.kubectl, kubeconfigPath)
const helm = (args: ReadonlyArray<string>) =>
  runCommand(tools.helm, ["--kubeconfig", kubeconfigPath, ...args]).pipe(Effect.orDie)

/** Every documented option, each rendered on its own. */
const variants: Record<string, object> = {
  defaults: minimalValues,
  existingSecret: { flyOrg: "acme", existingSecret: "fly-token" },
  "two replicas (PDB)": { ...minimalValues, replicaCount: 2 },
  "custom class, region, size and endpoint": {
    ...minimalValues,
    loadBalancerClass: "example.com/tunnel",
    flyRegion: "fra",
    flyMachineSize: "performance-2x",
    flyApiBaseUrl: "http://127.0.0.1:4280",
    logLevel: "debug",
  },
  "resources and scheduling": {
    ...minimalValues,
    resources: { requests: { cpu: "10m", memory: "64Mi" }, limits: { cpu: "1", memory: "512Mi" } },
    nodeSelector: { "kubernetes.io/os": "linux" },
    tolerations: [{ key: "dedicated", operator: "Exists", effect: "NoSchedule" }],
    affinity: { podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: [] } },
    podAnnotations: { "example.com/a": "b" },
    podLabels: { team: "edge" },
    imagePullSecrets: [{ name: "ghcr" }],
  },
  "metrics off": { ...minimalValues, metrics: { enabled: false } },
  // The ServiceMonitor's CRD (prometheus-operator) is not installed here; that one object is
  // checked by rendering only (contract tier) and left out of the dry run below.
  serviceMonitor: { ...minimalValues, metrics: { serviceMonitor: { enabled: true, labels: { release: "prom" } } } },
  "existing ServiceAccount": { ...minimalValues, serviceAccount: { create: false, name: "fto-operator" } },
  // The pre-delete hook's objects (Job, RBAC, ValidatingAdmissionPolicy and binding) are rendered too.
  "uninstall hook": { ...minimalValues, uninstall: { deleteTunnels: true } },
  "address and tenant policy": {
    ...minimalValues,
    addressTargets: {
      allowedCIDRs: ["192.168.0.0/16"],
      allowedHostnames: ["lan.example.com"],
      refusedCIDRs: ["10.42.0.0/16"],
    },
    tenants: {
      machineSizes: ["shared-cpu-1x", "shared-cpu-2x"],
      regions: ["ord", "ams"],
      maxRegions: 2,
      maxFrpcReplicas: 3,
      allowFrpcScheduling: false,
      namespaceSelector: {
        matchLabels: { tunnels: "yes" },
        matchExpressions: [
          { key: "team", operator: "In", values: ["a", "b"] },
          { key: "legacy", operator: "DoesNotExist" },
        ],
      },
    },
  },
  // The adoption Role and its binding (in the release namespace: the dry run's namespace is the only one that exists).
  adoption: { ...minimalValues, adoption: { enabled: true } },
}

/**
 * Splits helm's multi-document output, dropping empty documents, the ServiceMonitor and the CRD (the CRD exists in
 * this shared control plane, so its dry run says "configured"; it has a test of its own above).
 */
const documentsForDryRun = (rendered: string) =>
  rendered
    .split(/^---\s*$/m)
    .filter(
      (document) =>
        /^kind:/m.test(document) &&
        !/^kind: ServiceMonitor$/m.test(document) &&
        !/^kind: CustomResourceDefinition$/m.test(document),
    )

/** `resource` may name a subresource as `resource/sub` (kubectl itself would read that as an object name). */
const canI = (kubectl: Kubectl, subject: string, verb: string, resource: string, scope: ReadonlyArray<string>) => {
  const [kind = resource, subresource] = resource.split("/")
  const subresourceFlag = subresource === undefined ? [] : [`--subresource=${subresource}`]
  return kubectl
    .run(["auth", "can-i", verb, kind, ...subresourceFlag, `--as=${subject}`, ...scope])
    .pipe(Effect.map((result) => ({ check: `${verb} ${resource} ${scope.join(" ")}`, answer: result.stdout.trim() })))
}

const allVerbs = ["get", "list", "watch", "create", "update", "patch", "delete"]

describe("chart on a real kube-apiserver", () => {
  it.effect("the CRDs shipped in the chart are accepted (server-side dry run)", () =>
    Effect.gen(function* () {
      const result = yield* kubectl.run([
        "apply",
        "--server-side",
        "--dry-run=server",
        "-f",
        `${chartDir}files/crds/fly-tunnel-operator.dev_flytunnels.yaml`,
      ])
      expect(result.stderr).toBe("")
      expect(result.stdout).toContain("flytunnels.fly-tunnel-operator.dev serverside-applied (server dry run)")
    }),
  )

  for (const [name, values] of Object.entries(variants)) {
    it.effect(`every rendered object is accepted with strict field validation: ${name}`, () =>
      Effect.gen(function* () {
        const namespace = yield* scopedNamespace(kubectl, "fto-dryrun")
        const rendered = yield* helmTemplate(tools.helm, values, { namespace })
        expect(rendered.stderr).toBe("")
        const documents = documentsForDryRun(rendered.stdout)
        expect(documents.length).toBeGreaterThanOrEqual(6)
        const result = yield* kubectl.run(
          ["apply", "--dry-run=server", "--validate=strict", "-f", "-"],
          documents.join("\n---\n"),
        )
        expect(result.stderr).toBe("")
        expect(result.stdout.trim().split("\n")).toHaveLength(documents.length)
        for (const line of result.stdout.trim().split("\n")) expect(line).toMatch(/ created \(server dry run\)$/)
      }),
    )
  }

  it.effect("the operator pod is admitted by Pod Security 'restricted' (and a weakened one is not)", () =>
    Effect.gen(function* () {
      const namespace = yield* scopedNamespace(kubectl, "fto-psa", {
        "pod-security.kubernetes.io/enforce": "restricted",
        "pod-security.kubernetes.io/warn": "restricted",
      })
      // A Pod is admitted only when its ServiceAccount exists.
      yield* kubectl.ok(["create", "serviceaccount", "fto-fly-tunnel-operator", "--namespace", namespace])
      const podFrom = (manifests: ReadonlyArray<Manifest>) =>
        JSON.stringify({
          apiVersion: "v1",
          kind: "Pod",
          metadata: { name: "operator", namespace },
          spec: only<V1Deployment>(manifests, "Deployment").spec?.template.spec,
        })
      const admitted = yield* kubectl.run(
        ["create", "--dry-run=server", "-f", "-"],
        podFrom(yield* renderChart(tools.helm, minimalValues, { namespace })),
      )
      expect(admitted.stderr).toBe("")
      expect(admitted.stdout).toContain("pod/operator created (server dry run)")

      const weakened = yield* renderChart(
        tools.helm,
        { ...minimalValues, securityContext: { allowPrivilegeEscalation: true } },
        { namespace },
      )
      const refused = yield* kubectl.run(["create", "--dry-run=server", "-f", "-"], podFrom(weakened))
      expect(refused.exitCode).not.toBe(0)
      expect(refused.stderr).toContain('violates PodSecurity "restricted:latest"')
    }),
  )

  it.effect(
    "helm install succeeds and the ServiceAccount can do exactly what the operator's code does, nothing else",
    () =>
      Effect.gen(function* () {
        const namespace = yield* scopedNamespace(kubectl, "fto-install")
        const release = `fto-${namespace.slice(-8)}`
        yield* Effect.addFinalizer(() => helm(["uninstall", release, "--namespace", namespace]))
        yield* adoptCrdForRelease(kubectl, release, namespace)
        const installed = yield* helm([
          "install",
          release,
          chartDir,
          "--namespace",
          namespace,
          "--set",
          `flyOrg=${minimalValues.flyOrg},flyApiToken=${minimalValues.flyApiToken}`,
        ])
        expect(installed.stderr).toBe("")
        expect(installed.exitCode).toBe(0)
        expect(installed.stdout).toContain("STATUS: deployed")
        expect(installed.stdout).toContain("kubectl get flytunnels -A")
        expect(installed.stdout).toContain("loadBalancerClass: fly-tunnel-operator.dev/lb")

        const crd = yield* kubectl.run(["get", "crd", "flytunnels.fly-tunnel-operator.dev", "-o", "name"])
        expect(crd.stdout.trim()).toBe(
          "customresourcedefinition.apiextensions.k8s.io/flytunnels.fly-tunnel-operator.dev",
        )
        const objects = yield* kubectl.ok([
          "get",
          "deployment,serviceaccount,secret,service,role,rolebinding",
          "--namespace",
          namespace,
          "--selector",
          `app.kubernetes.io/instance=${release}`,
          "-o",
          "name",
        ])
        const fullname = `${release}-fly-tunnel-operator`
        expect(objects.stdout.trim().split("\n").sort()).toEqual(
          [
            `deployment.apps/${fullname}`,
            `role.rbac.authorization.k8s.io/${fullname}`,
            `rolebinding.rbac.authorization.k8s.io/${fullname}`,
            `secret/${fullname}`,
            `service/${fullname}-metrics`,
            `serviceaccount/${fullname}`,
          ].sort(),
        )

        const subject = `system:serviceaccount:${namespace}:${fullname}`
        const inRelease = ["--namespace", namespace]
        const elsewhere = ["--namespace", "default"]
        const everywhere = ["--all-namespaces"]
        // Exactly the verbs the operator's code uses, per resource and scope; every other verb is denied there. A
        // server-side apply that creates is authorized as a create as well as a patch.
        const used: ReadonlyArray<readonly [string, ReadonlyArray<string>, ReadonlyArray<string>]> = [
          ["secrets", inRelease, ["get", "list", "create", "patch", "delete"]],
          ["deployments.apps", inRelease, ["list", "watch", "create", "patch", "delete"]],
          ["leases.coordination.k8s.io", inRelease, ["get", "create", "update"]],
          ["flytunnels.fly-tunnel-operator.dev", everywhere, ["get", "list", "watch", "create", "patch", "delete"]],
          ["flytunnels.fly-tunnel-operator.dev/status", everywhere, ["patch"]],
          ["flytunnels.fly-tunnel-operator.dev/finalizers", everywhere, []],
          ["services", everywhere, ["list", "watch", "patch"]],
          ["services/status", everywhere, ["patch"]],
          ["services/finalizers", everywhere, ["update"]],
          ["events", everywhere, ["create", "patch"]],
          ["events.events.k8s.io", everywhere, []],
          ["namespaces", everywhere, ["get"]],
          ["nodes", everywhere, ["list"]],
          ["servicecidrs.networking.k8s.io", everywhere, ["list"]],
          ["configmaps", inRelease, []],
          ["pods", inRelease, []],
        ]
        const allowed = used.flatMap(([resource, scope, verbs]) =>
          verbs.map((verb) => [verb, resource, scope] as const),
        )
        const unused = used.flatMap(([resource, scope, verbs]) =>
          allVerbs.filter((verb) => !verbs.includes(verb)).map((verb) => [verb, resource, scope] as const),
        )
        const denied = [
          ...unused,
          ["get", "secrets", elsewhere],
          ["list", "secrets", everywhere],
          ["create", "secrets", elsewhere],
          ["list", "deployments.apps", everywhere],
          ["patch", "deployments.apps", elsewhere],
          ["update", "leases.coordination.k8s.io", elsewhere],
          ["get", "endpointslices.discovery.k8s.io", elsewhere],
          ["list", "endpointslices.discovery.k8s.io", everywhere],
          ["create", "rolebindings.rbac.authorization.k8s.io", inRelease],
          ["escalate", "roles.rbac.authorization.k8s.io", inRelease],
          ["impersonate", "serviceaccounts", inRelease],
          ["*", "*", everywhere],
        ] as const
        const answers = yield* Effect.forEach(
          [...allowed.map((check) => [...check, "yes"] as const), ...denied.map((check) => [...check, "no"] as const)],
          ([verb, resource, scope, expected]) =>
            canI(kubectl, subject, verb, resource, scope).pipe(Effect.map((answer) => ({ ...answer, expected }))),
          { concurrency: 8 },
        )
        const wrong = answers.filter((answer) => answer.answer !== answer.expected)
        expect(wrong).toEqual([])
        // The API server's own EndpointSlice, by name, and no other.
        const slice = (name: string) =>
          kubectl
            .run([
              "auth",
              "can-i",
              "get",
              `endpointslices.discovery.k8s.io/${name}`,
              `--as=${subject}`,
              "-n",
              "default",
            ])
            .pipe(Effect.map((result) => result.stdout.trim()))
        expect(yield* slice("kubernetes")).toBe("yes")
        expect(yield* slice("web")).toBe("no")
      }),
  )
})
