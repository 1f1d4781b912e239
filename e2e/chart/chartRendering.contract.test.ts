import { readFile } from "node:fs/promises"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { CRD_PATH } from "@fly-tunnel-operator/api"
// e2e does not depend on @fly-tunnel-operator/frp; the pinned images are plain constants.
import { FRPC_IMAGE, FRPS_IMAGE } from "@fly-tunnel-operator/frp"
import type {
  V1ClusterRole,
  V1ClusterRoleBinding,
  V1Container,
  V1Deployment,
  V1EnvVar,
  V1Job,
  V1PodDisruptionBudget,
  V1Role,
  V1RoleBinding,
  V1Secret,
  V1Service,
} from "@kubernetes/client-node"
import { loadYaml } from "@kubernetes/client-node"
import { Effect } from "effect"
import {
  helmBinary,
  helmTemplate,
  kindsOf,
  type Manifest,
  minimalValues,
  only,
  renderChart,
  repoRoot,
} from "./chart.ts"
import { runCommand } from "./command.ts"

const helm = helmBinary()
const render = (values: object = {}) => renderChart(helm, { ...minimalValues, ...values })

const operatorContainer = (manifests: ReadonlyArray<Manifest>): V1Container => {
  const container = only<V1Deployment>(manifests, "Deployment").spec?.template.spec?.containers[0]
  if (container === undefined) throw new Error("the Deployment has no container")
  return container
}

const envOf = (manifests: ReadonlyArray<Manifest>): ReadonlyArray<V1EnvVar> => operatorContainer(manifests).env ?? []

const envValue = (manifests: ReadonlyArray<Manifest>, name: string) =>
  envOf(manifests).find((variable) => variable.name === name)?.value

describe("chart rendering", () => {
  it.effect("helm lint --strict passes", () =>
    Effect.gen(function* () {
      const result = yield* runCommand(helm, [
        "lint",
        "--strict",
        "charts/fly-tunnel-operator",
        "--set",
        `flyOrg=${minimalValues.flyOrg},flyApiToken=${minimalValues.flyApiToken}`,
      ]).pipe(Effect.orDie)
      expect(result.stderr + result.stdout).toContain("0 chart(s) failed")
      expect(result.exitCode).toBe(0)
    }),
  )

  it.effect(
    "defaults: operator, token Secret, metrics Service and least-privilege RBAC; no PDB or ServiceMonitor",
    () =>
      Effect.gen(function* () {
        const manifests = yield* render()
        expect(kindsOf(manifests)).toEqual([
          "ClusterRole",
          "ClusterRoleBinding",
          "CustomResourceDefinition",
          "Deployment",
          "Role",
          "RoleBinding",
          "Secret",
          "Service",
          "ServiceAccount",
          "ValidatingAdmissionPolicy",
          "ValidatingAdmissionPolicyBinding",
        ])
        const deployment = only<V1Deployment>(manifests, "Deployment")
        expect(deployment.spec?.replicas).toBe(1)
        expect(deployment.spec?.template.spec?.serviceAccountName).toBe("fto-fly-tunnel-operator")
        expect(operatorContainer(manifests).image).toBe("ghcr.io/fly-tunnel-operator/fly-tunnel-operator:0.1.0")
        expect(Object.fromEntries(envOf(manifests).map((variable) => [variable.name, variable.value ?? null]))).toEqual(
          {
            FLY_API_TOKEN_FILE: "/var/run/secrets/fly-tunnel-operator/fly-api-token",
            FLY_API_BASE_URL: "https://api.machines.dev",
            FLY_ORG: "acme",
            FLY_REGION: "ord",
            FLY_MACHINE_SIZE: "shared-cpu-1x",
            LOAD_BALANCER_CLASS: "fly-tunnel-operator.dev/lb",
            FRPS_IMAGE: FRPS_IMAGE,
            FRPC_IMAGE: FRPC_IMAGE,
            OPERATOR_NAMESPACE: null,
            LOG_LEVEL: "info",
            METRICS_ADDR: ":8080",
            HEALTH_ADDR: ":8081",
            SWEEP_INTERVAL_SECONDS: "300",
            SWEEP_GRACE_SECONDS: "600",
            ADOPTION_ENABLED: "false",
            LEADER_ELECT: "true",
            ADDRESS_TARGETS_ENABLED: "true",
            ADDRESS_TARGETS_ALLOWED_CIDRS: "10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,fc00::/7",
            ADDRESS_TARGETS_ALLOWED_HOSTNAMES: "",
            ADDRESS_TARGETS_REFUSED_CIDRS: "",
            TENANT_MACHINE_SIZES: "",
            TENANT_REGIONS: "",
            TENANT_MAX_REGIONS: "10",
            TENANT_MAX_FRPC_REPLICAS: "10",
            TENANT_ALLOW_FRPC_SCHEDULING: "true",
            TENANT_NAMESPACE_SELECTOR: "{}",
          },
        )
        expect(envOf(manifests).find((variable) => variable.name === "OPERATOR_NAMESPACE")?.valueFrom).toEqual({
          fieldRef: { fieldPath: "metadata.namespace" },
        })
      }),
  )

  it.effect(
    "the CRD is rendered from the generated one, kept on uninstall; crds.keep and crds.enabled turn that off",
    () =>
      Effect.gen(function* () {
        const generated = loadYaml(yield* Effect.promise(() => readFile(join(repoRoot, CRD_PATH), "utf8"))) as Manifest
        const crd = only<Manifest>(yield* render(), "CustomResourceDefinition")
        const { labels, annotations, ...metadata } = crd.metadata as Manifest["metadata"] & { annotations?: object }
        expect({ ...crd, metadata }).toEqual(generated)
        expect(annotations).toEqual({ "helm.sh/resource-policy": "keep" })
        expect(labels).toMatchObject({ "app.kubernetes.io/managed-by": "Helm", "app.kubernetes.io/instance": "fto" })

        const notKept = only<Manifest>(yield* render({ crds: { keep: false } }), "CustomResourceDefinition")
        expect(notKept.metadata).not.toHaveProperty("annotations")
        expect(kindsOf(yield* render({ crds: { enabled: false } }))).not.toContain("CustomResourceDefinition")
      }),
  )

  it.effect("uninstall.deleteTunnels off (default): no hook object is rendered", () =>
    Effect.gen(function* () {
      const manifests = yield* render()
      expect(manifests.filter((manifest) => JSON.stringify(manifest).includes("helm.sh/hook"))).toEqual([])
    }),
  )

  it.effect(
    "uninstall hook: a pre-delete Job with its own least-privilege RBAC and an admission policy, all hook objects",
    () =>
      Effect.gen(function* () {
        const manifests = yield* render({ uninstall: { deleteTunnels: true, timeoutSeconds: 120 } })
        const hooks = manifests.filter((manifest) => JSON.stringify(manifest).includes('"helm.sh/hook":"pre-delete"'))
        const name = "fto-fly-tunnel-operator-uninstall"
        expect(hooks.map((hook) => `${hook.kind}/${hook.metadata.name}`).sort()).toEqual(
          [
            "ClusterRole",
            "ClusterRoleBinding",
            "Job",
            "Role",
            "RoleBinding",
            "ServiceAccount",
            "ValidatingAdmissionPolicy",
            "ValidatingAdmissionPolicyBinding",
          ].map((kind) => `${kind}/${name}`),
        )
        const annotations = (hook: Manifest) => (hook.metadata as { annotations?: Record<string, string> }).annotations
        // RBAC and the policy exist before the Job runs and go once it succeeded; a failed Job stays for its log.
        for (const hook of hooks.filter((entry) => entry.kind !== "Job")) {
          expect(Number(annotations(hook)?.["helm.sh/hook-weight"]), hook.kind).toBeLessThan(0)
          expect(annotations(hook)?.["helm.sh/hook-delete-policy"], hook.kind).toBe(
            "before-hook-creation,hook-succeeded",
          )
        }
        const job = only<V1Job>(hooks, "Job")
        expect(annotations(job as Manifest)?.["helm.sh/hook-delete-policy"]).toBe("before-hook-creation,hook-succeeded")
        expect(job.spec?.backoffLimit).toBe(0)
        expect(job.spec?.activeDeadlineSeconds).toBe(180)
        const pod = job.spec?.template.spec
        expect(pod?.serviceAccountName).toBe(name)
        expect(pod?.restartPolicy).toBe("Never")
        const [container] = pod?.containers ?? []
        expect(container?.image).toBe(operatorContainer(manifests).image)
        expect(container?.args).toEqual(["uninstall"])
        expect(container?.securityContext).toEqual(operatorContainer(manifests).securityContext)
        expect(
          Object.fromEntries((container?.env ?? []).map((variable) => [variable.name, variable.value ?? null])),
        ).toEqual({
          UNINSTALL_TIMEOUT_SECONDS: "120",
          LOAD_BALANCER_CLASS: "fly-tunnel-operator.dev/lb",
          OPERATOR_NAMESPACE: null,
          OPERATOR_DEPLOYMENT: "fto-fly-tunnel-operator",
          // The operator's Pods, and not the hook's own (whose component differs).
          OPERATOR_SELECTOR:
            "app.kubernetes.io/name=fly-tunnel-operator,app.kubernetes.io/instance=fto,app.kubernetes.io/component=operator",
        })
        expect(job.spec?.template.metadata?.labels?.["app.kubernetes.io/component"]).toBe("uninstall-hook")
        expect(only<V1Deployment>(manifests, "Deployment").spec?.template.metadata?.labels).toMatchObject({
          "app.kubernetes.io/component": "operator",
        })

        const clusterRole = hooks.find((hook) => hook.kind === "ClusterRole") as V1ClusterRole
        expect(clusterRole.rules).toEqual([
          { apiGroups: ["fly-tunnel-operator.dev"], resources: ["flytunnels"], verbs: ["list", "delete"] },
          { apiGroups: [""], resources: ["services"], verbs: ["get", "list", "patch"] },
          { apiGroups: [""], resources: ["services/status"], verbs: ["patch"] },
        ])
        const role = hooks.find((hook) => hook.kind === "Role") as V1Role
        expect(role.rules).toEqual([
          {
            apiGroups: ["apps"],
            resources: ["deployments"],
            resourceNames: ["fto-fly-tunnel-operator"],
            verbs: ["patch"],
          },
          { apiGroups: [""], resources: ["pods"], verbs: ["list"] },
        ])
        const policy = hooks.find((hook) => hook.kind === "ValidatingAdmissionPolicy") as Manifest & {
          spec: { matchConditions: ReadonlyArray<{ expression: string }>; matchConstraints: unknown }
        }
        expect(policy.spec.matchConstraints).toEqual({
          resourceRules: [
            {
              apiGroups: ["fly-tunnel-operator.dev"],
              apiVersions: ["*"],
              operations: ["CREATE"],
              resources: ["flytunnels"],
            },
          ],
        })
        expect(policy.spec.matchConditions.map((condition) => condition.expression)).toEqual([
          "request.userInfo.username == 'system:serviceaccount:fly-tunnel-operator:fto-fly-tunnel-operator'",
        ])
      }),
  )

  it.effect("the token reaches the pod only as a file from the Secret's fly-api-token key", () =>
    Effect.gen(function* () {
      const manifests = yield* render()
      const secret = only<V1Secret>(manifests, "Secret")
      expect(secret.data).toEqual({ "fly-api-token": Buffer.from(minimalValues.flyApiToken).toString("base64") })
      const podSpec = only<V1Deployment>(manifests, "Deployment").spec?.template.spec
      expect(podSpec?.volumes?.find((volume) => volume.name === "fly-api-token")?.secret).toEqual({
        secretName: secret.metadata?.name,
        defaultMode: 0o440, // owner and group (fsGroup) may read
        items: [{ key: "fly-api-token", path: "fly-api-token" }],
      })
      expect(operatorContainer(manifests).volumeMounts).toContainEqual({
        name: "fly-api-token",
        mountPath: "/var/run/secrets/fly-tunnel-operator",
        readOnly: true,
      })
      const withoutSecret = manifests.filter((manifest) => manifest.kind !== "Secret")
      expect(JSON.stringify(withoutSecret)).not.toContain(minimalValues.flyApiToken)
      expect(operatorContainer(manifests).args ?? []).toEqual([])
    }),
  )

  it.effect("the operator pod passes Pod Security restricted and has health probes", () =>
    Effect.gen(function* () {
      const manifests = yield* render()
      const podSpec = only<V1Deployment>(manifests, "Deployment").spec?.template.spec
      expect(podSpec?.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } })
      const container = operatorContainer(manifests)
      expect(container.securityContext).toEqual({
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        runAsNonRoot: true,
        capabilities: { drop: ["ALL"] },
      })
      expect(container.livenessProbe?.httpGet).toEqual({ path: "/healthz", port: "health" })
      expect(container.readinessProbe?.httpGet).toEqual({ path: "/readyz", port: "health" })
      expect(container.ports).toEqual([
        { name: "metrics", containerPort: 8080, protocol: "TCP" },
        { name: "health", containerPort: 8081, protocol: "TCP" },
      ])
    }),
  )

  it.effect("RBAC: cluster-wide, exactly what the code reads and writes; nothing of Secrets or workloads", () =>
    Effect.gen(function* () {
      const manifests = yield* render()
      expect(only<V1ClusterRole>(manifests, "ClusterRole").rules).toEqual([
        {
          apiGroups: ["fly-tunnel-operator.dev"],
          resources: ["flytunnels"],
          verbs: ["get", "list", "watch", "create", "patch", "delete"],
        },
        { apiGroups: ["fly-tunnel-operator.dev"], resources: ["flytunnels/status"], verbs: ["patch"] },
        { apiGroups: [""], resources: ["services"], verbs: ["list", "watch", "patch"] },
        { apiGroups: [""], resources: ["services/status"], verbs: ["patch"] },
        { apiGroups: [""], resources: ["services/finalizers"], verbs: ["update"] },
        { apiGroups: [""], resources: ["events"], verbs: ["create", "patch"] },
        { apiGroups: [""], resources: ["namespaces"], verbs: ["get"] },
        { apiGroups: [""], resources: ["nodes"], verbs: ["list"] },
        { apiGroups: ["networking.k8s.io"], resources: ["servicecidrs"], verbs: ["list"] },
        {
          apiGroups: ["discovery.k8s.io"],
          resources: ["endpointslices"],
          resourceNames: ["kubernetes"],
          verbs: ["get"],
        },
      ])
      const binding = only<V1ClusterRoleBinding>(manifests, "ClusterRoleBinding")
      expect(binding.roleRef).toEqual({
        apiGroup: "rbac.authorization.k8s.io",
        kind: "ClusterRole",
        name: "fto-fly-tunnel-operator",
      })
      expect(binding.subjects).toEqual([
        { kind: "ServiceAccount", name: "fto-fly-tunnel-operator", namespace: "fly-tunnel-operator" },
      ])
    }),
  )

  it.effect("RBAC: Secrets, Deployments and Leases only in the release namespace", () =>
    Effect.gen(function* () {
      const manifests = yield* render()
      const role = only<V1Role>(manifests, "Role")
      expect(role.metadata?.namespace).toBe("fly-tunnel-operator")
      expect(role.rules).toEqual([
        { apiGroups: [""], resources: ["secrets"], verbs: ["get", "list", "create", "patch", "delete"] },
        { apiGroups: ["apps"], resources: ["deployments"], verbs: ["list", "watch", "create", "patch", "delete"] },
        { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["get", "create", "update"] },
      ])
      const binding = only<V1RoleBinding>(manifests, "RoleBinding")
      expect(binding.metadata?.namespace).toBe("fly-tunnel-operator")
      expect(binding.roleRef).toEqual({
        apiGroup: "rbac.authorization.k8s.io",
        kind: "Role",
        name: role.metadata?.name,
      })
      expect(binding.subjects).toEqual([
        { kind: "ServiceAccount", name: "fto-fly-tunnel-operator", namespace: "fly-tunnel-operator" },
      ])
    }),
  )

  it.effect("the policy values reach the operator's environment; the admission policy can be left out", () =>
    Effect.gen(function* () {
      const manifests = yield* renderChart(helm, {
        ...minimalValues,
        flyRegion: "ams",
        addressTargets: {
          enabled: false,
          allowedCIDRs: ["192.168.1.0/24"],
          allowedHostnames: [".lan"],
          refusedCIDRs: ["10.42.0.0/16"],
        },
        tenants: {
          machineSizes: ["shared-cpu-1x"],
          regions: ["ams", "fra"],
          maxRegions: 2,
          maxFrpcReplicas: 3,
          allowFrpcScheduling: false,
          namespaceSelector: { matchLabels: { tunnels: "yes" } },
        },
        admissionPolicy: { enabled: false },
      })
      const env = Object.fromEntries(envOf(manifests).map((variable) => [variable.name, variable.value]))
      expect(env).toMatchObject({
        ADDRESS_TARGETS_ENABLED: "false",
        ADDRESS_TARGETS_ALLOWED_CIDRS: "192.168.1.0/24",
        ADDRESS_TARGETS_ALLOWED_HOSTNAMES: ".lan",
        ADDRESS_TARGETS_REFUSED_CIDRS: "10.42.0.0/16",
        TENANT_MACHINE_SIZES: "shared-cpu-1x",
        TENANT_REGIONS: "ams,fra",
        TENANT_MAX_REGIONS: "2",
        TENANT_MAX_FRPC_REPLICAS: "3",
        TENANT_ALLOW_FRPC_SCHEDULING: "false",
        TENANT_NAMESPACE_SELECTOR: '{"matchLabels":{"tunnels":"yes"}}',
      })
      expect(kindsOf(manifests).filter((kind) => kind.startsWith("ValidatingAdmission"))).toEqual([])
    }),
  )

  it.effect("refuses defaults the tenant limits would refuse themselves", () =>
    Effect.gen(function* () {
      const size = yield* helmTemplate(helm, { ...minimalValues, tenants: { machineSizes: ["performance-1x"] } })
      expect(size.exitCode).not.toBe(0)
      expect(size.stderr).toContain("flyMachineSize shared-cpu-1x must be one of tenants.machineSizes (performance-1x)")
      const region = yield* helmTemplate(helm, { ...minimalValues, tenants: { regions: ["fra"] } })
      expect(region.stderr).toContain("flyRegion ord must be one of tenants.regions (fra)")
    }),
  )

  it.effect(
    "RBAC for adoption: get, list and delete of frpc Deployments and ConfigMaps in the Go operator's namespace only, and only when adoption is configured",
    () =>
      Effect.gen(function* () {
        const roles = (manifests: ReadonlyArray<Manifest>) =>
          manifests.filter((manifest) => manifest.kind === "Role") as ReadonlyArray<V1Role>
        expect(roles(yield* render()).map((role) => role.metadata?.name)).toEqual(["fto-fly-tunnel-operator"])
        for (const [values, namespace, enabled] of [
          [{ adoption: { enabled: true } }, "fly-tunnel-operator", "true"],
          [{ adoption: { goOperatorNamespace: "fly-tunnel-operator-system" } }, "fly-tunnel-operator-system", "false"],
        ] as const) {
          const manifests = yield* render(values)
          const adoption = roles(manifests).find((role) => role.metadata?.name === "fto-fly-tunnel-operator-adoption")
          expect(adoption?.metadata?.namespace).toBe(namespace)
          expect(adoption?.rules).toEqual([
            { apiGroups: [""], resources: ["configmaps"], verbs: ["get", "list", "delete"] },
            { apiGroups: ["apps"], resources: ["deployments"], verbs: ["get", "list", "delete"] },
          ])
          const binding = manifests.find(
            (manifest) => manifest.kind === "RoleBinding" && manifest.metadata.name === adoption?.metadata?.name,
          ) as V1RoleBinding | undefined
          expect(binding?.metadata?.namespace).toBe(namespace)
          expect(binding?.subjects).toEqual([
            { kind: "ServiceAccount", name: "fto-fly-tunnel-operator", namespace: "fly-tunnel-operator" },
          ])
          const env = Object.fromEntries(envOf(manifests).map((variable) => [variable.name, variable.value]))
          expect(env.ADOPTION_ENABLED).toBe(enabled)
          expect(env.GO_OPERATOR_NAMESPACE).toBe(namespace === "fly-tunnel-operator" ? undefined : namespace)
        }
      }),
  )

  it.effect("every object carries the standard labels and namespaced ones live in the release namespace", () =>
    Effect.gen(function* () {
      const manifests = yield* renderChart(helm, minimalValues, { release: "edge", namespace: "tunnels" })
      for (const manifest of manifests) {
        expect(manifest.metadata.labels, manifest.kind).toMatchObject({
          "app.kubernetes.io/name": "fly-tunnel-operator",
          "app.kubernetes.io/instance": "edge",
          "app.kubernetes.io/managed-by": "Helm",
          "helm.sh/chart": "fly-tunnel-operator-0.1.0",
        })
        const clusterScoped =
          manifest.kind.startsWith("Cluster") ||
          manifest.kind === "CustomResourceDefinition" ||
          manifest.kind.startsWith("ValidatingAdmission")
        if (!clusterScoped) expect(manifest.metadata.namespace, manifest.kind).toBe("tunnels")
      }
    }),
  )

  it.effect("existingSecret: no Secret is rendered and the pod mounts the named one", () =>
    Effect.gen(function* () {
      const manifests = yield* renderChart(helm, { flyOrg: "acme", existingSecret: "my-fly-token" })
      expect(kindsOf(manifests)).not.toContain("Secret")
      const volume = only<V1Deployment>(manifests, "Deployment").spec?.template.spec?.volumes?.[0]
      expect(volume?.secret?.secretName).toBe("my-fly-token")
      const both = yield* renderChart(helm, { ...minimalValues, existingSecret: "my-fly-token" })
      expect(kindsOf(both)).not.toContain("Secret")
      expect(JSON.stringify(both)).not.toContain(minimalValues.flyApiToken)
    }),
  )

  it.effect("replicaCount 2: a PodDisruptionBudget keeps one operator up, leader election stays on", () =>
    Effect.gen(function* () {
      const manifests = yield* render({ replicaCount: 2 })
      expect(only<V1Deployment>(manifests, "Deployment").spec?.replicas).toBe(2)
      const budget = only<V1PodDisruptionBudget>(manifests, "PodDisruptionBudget")
      expect(budget.spec?.minAvailable).toBe(1)
      expect(budget.spec?.selector?.matchLabels).toEqual(
        only<V1Deployment>(manifests, "Deployment").spec?.selector.matchLabels,
      )
      expect(envValue(manifests, "LEADER_ELECT")).toBe("true")
    }),
  )

  it.effect("serviceMonitor: scrapes the metrics Service by its labels, with the given labels and interval", () =>
    Effect.gen(function* () {
      const manifests = yield* render({
        metrics: { serviceMonitor: { enabled: true, labels: { release: "prometheus" }, interval: "15s" } },
      })
      const monitor = only<Manifest>(manifests, "ServiceMonitor")
      expect(monitor.apiVersion).toBe("monitoring.coreos.com/v1")
      expect(monitor.metadata.labels).toMatchObject({ release: "prometheus" })
      const service = only<V1Service>(manifests, "Service")
      expect(monitor.spec).toEqual({
        selector: { matchLabels: service.spec?.selector },
        namespaceSelector: { matchNames: ["fly-tunnel-operator"] },
        endpoints: [{ port: "metrics", path: "/metrics", interval: "15s" }],
      })
      for (const [key, value] of Object.entries(service.spec?.selector ?? {})) {
        expect(service.metadata?.labels?.[key]).toBe(value)
      }
    }),
  )

  it.effect("a ServiceMonitor without the metrics Service is refused", () =>
    Effect.gen(function* () {
      const result = yield* helmTemplate(helm, {
        ...minimalValues,
        metrics: { enabled: false, serviceMonitor: { enabled: true } },
      })
      expect(result.exitCode).not.toBe(0)
      expect(result.stderr).toContain("metrics.serviceMonitor.enabled needs metrics.enabled")
    }),
  )

  it.effect(
    "metrics: a custom port moves the container port, the Service and METRICS_ADDR; disabled drops the Service",
    () =>
      Effect.gen(function* () {
        const manifests = yield* render({ metrics: { port: 9090 }, health: { port: 9091 } })
        expect(envValue(manifests, "METRICS_ADDR")).toBe(":9090")
        expect(envValue(manifests, "HEALTH_ADDR")).toBe(":9091")
        expect(operatorContainer(manifests).ports?.map((port) => port.containerPort)).toEqual([9090, 9091])
        expect(only<V1Service>(manifests, "Service").spec?.ports).toEqual([
          { name: "metrics", port: 9090, targetPort: "metrics", protocol: "TCP" },
        ])
        const disabled = yield* render({ metrics: { enabled: false } })
        expect(kindsOf(disabled)).not.toContain("Service")
      }),
  )

  it.effect("Fly and frp settings reach the operator's environment", () =>
    Effect.gen(function* () {
      const frps = `registry.example/frps:0.71.0@sha256:${"a".repeat(64)}`
      const frpc = `registry.example/frpc:0.71.0@sha256:${"b".repeat(64)}`
      const manifests = yield* render({
        loadBalancerClass: "example.com/tunnel",
        flyRegion: "fra",
        flyMachineSize: "shared-cpu-2x",
        flyApiBaseUrl: "http://127.0.0.1:4280",
        logLevel: "debug",
        frpsImage: frps,
        frpcImage: frpc,
      })
      expect(envValue(manifests, "LOAD_BALANCER_CLASS")).toBe("example.com/tunnel")
      expect(envValue(manifests, "FLY_REGION")).toBe("fra")
      expect(envValue(manifests, "FLY_MACHINE_SIZE")).toBe("shared-cpu-2x")
      expect(envValue(manifests, "FLY_API_BASE_URL")).toBe("http://127.0.0.1:4280")
      expect(envValue(manifests, "LOG_LEVEL")).toBe("debug")
      expect(envValue(manifests, "FRPS_IMAGE")).toBe(frps)
      expect(envValue(manifests, "FRPC_IMAGE")).toBe(frpc)
    }),
  )

  it.effect("scheduling, resources and pod metadata are passed through", () =>
    Effect.gen(function* () {
      const resources = { requests: { cpu: "10m", memory: "64Mi" }, limits: { cpu: "1", memory: "512Mi" } }
      const tolerations = [{ key: "dedicated", operator: "Equal", value: "infra", effect: "NoSchedule" }]
      const affinity = {
        nodeAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: {
            nodeSelectorTerms: [
              { matchExpressions: [{ key: "kubernetes.io/arch", operator: "In", values: ["arm64"] }] },
            ],
          },
        },
      }
      const manifests = yield* render({
        resources,
        nodeSelector: { "kubernetes.io/os": "linux" },
        tolerations,
        affinity,
        podAnnotations: { "example.com/scrape": "yes" },
        podLabels: { team: "edge" },
        priorityClassName: "system-cluster-critical",
        imagePullSecrets: [{ name: "ghcr" }],
      })
      const template = only<V1Deployment>(manifests, "Deployment").spec?.template
      expect(operatorContainer(manifests).resources).toEqual(resources)
      expect(template?.spec?.nodeSelector).toEqual({ "kubernetes.io/os": "linux" })
      expect(template?.spec?.tolerations).toEqual(tolerations)
      expect(template?.spec?.affinity).toEqual(affinity)
      expect(template?.spec?.priorityClassName).toBe("system-cluster-critical")
      expect(template?.spec?.imagePullSecrets).toEqual([{ name: "ghcr" }])
      expect(template?.metadata?.annotations).toEqual({ "example.com/scrape": "yes" })
      expect(template?.metadata?.labels).toMatchObject({ team: "edge", "app.kubernetes.io/instance": "fto" })
    }),
  )

  it.effect("image: a digest pins the image and wins over the tag", () =>
    Effect.gen(function* () {
      const digest = `sha256:${"c".repeat(64)}`
      const tagged = yield* render({
        image: { repository: "registry.example/fto", tag: "1.2.3", pullPolicy: "Always" },
      })
      expect(operatorContainer(tagged).image).toBe("registry.example/fto:1.2.3")
      expect(operatorContainer(tagged).imagePullPolicy).toBe("Always")
      const pinned = yield* render({ image: { repository: "registry.example/fto", tag: "1.2.3", digest } })
      expect(operatorContainer(pinned).image).toBe(`registry.example/fto@${digest}`)
    }),
  )

  it.effect("serviceAccount: an existing account is bound instead of creating one", () =>
    Effect.gen(function* () {
      const manifests = yield* render({ serviceAccount: { create: false, name: "fto-operator" } })
      expect(kindsOf(manifests)).not.toContain("ServiceAccount")
      expect(only<V1Deployment>(manifests, "Deployment").spec?.template.spec?.serviceAccountName).toBe("fto-operator")
      expect(only<V1RoleBinding>(manifests, "RoleBinding").subjects?.[0]?.name).toBe("fto-operator")
      expect(only<V1ClusterRoleBinding>(manifests, "ClusterRoleBinding").subjects?.[0]?.name).toBe("fto-operator")
      const annotated = yield* render({ serviceAccount: { annotations: { "example.com/role": "edge" } } })
      expect(only<Manifest>(annotated, "ServiceAccount").metadata).toMatchObject({
        annotations: { "example.com/role": "edge" },
      })
      const unnamed = yield* helmTemplate(helm, { ...minimalValues, serviceAccount: { create: false } })
      expect(unnamed.exitCode).not.toBe(0)
      expect(unnamed.stderr).toContain("serviceAccount.name is required when serviceAccount.create is false")
    }),
  )

  it.effect("empty frp images leave the choice to the operator's built-in pinned images", () =>
    Effect.gen(function* () {
      const manifests = yield* render({ frpsImage: "", frpcImage: "" })
      const names = envOf(manifests).map((variable) => variable.name)
      expect(names).not.toContain("FRPS_IMAGE")
      expect(names).not.toContain("FRPC_IMAGE")
    }),
  )
})
