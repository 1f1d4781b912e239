import { execFile } from "node:child_process"
import { promisify } from "node:util"
import { type RunningEmulator, startEmulator } from "@fly-tunnel-operator/fly-emulator"
import { eventually } from "@fly-tunnel-operator/testkit"
import { GenericContainer } from "testcontainers"
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest"
import { chartDir, repoRoot } from "../chart/chart.ts"
import { exchangeUntil } from "../local/tcpExchange.ts"
import { type KindCluster, startKindCluster } from "./kindCluster.ts"

const run = promisify(execFile)
const notRun = inject("kindNotRun")
const tools = inject("tools")
const IMAGE_REPOSITORY = "fto-operator"
const IMAGE_TAG = "kind-e2e"
const ECHO_PORT = 7777

/**
 * The release as users get it: the operator image built from the Dockerfile, the chart installed with helm into a
 * kind cluster (started with testcontainers), the Fly emulator on this host reachable from the kind network. Runs only
 * where a Docker engine answers; dockerEngineSetup.ts says in one line why it did not run elsewhere.
 */
describe.skipIf(notRun !== undefined)("kind: the image and the chart as released, on a real cluster", () => {
  let cluster: KindCluster
  let emulator: RunningEmulator
  const kubectl = async (args: ReadonlyArray<string>, input?: string): Promise<string> => {
    const child = run(tools.kubectl, ["--kubeconfig", cluster.kubeconfigPath, ...args])
    if (input !== undefined) child.child.stdin?.end(input)
    return (await child).stdout
  }

  beforeAll(async () => {
    const image = `${IMAGE_REPOSITORY}:${IMAGE_TAG}`
    await GenericContainer.fromDockerfile(repoRoot).withBuildkit().build(image, { deleteOnExit: false })
    cluster = await startKindCluster()
    await cluster.loadImage(image)
    // Real frps Machines; the API on the docker network's gateway, where the operator's Pod reaches this host.
    emulator = await startEmulator({ frpsPath: tools.frps, network: "auto", host: cluster.hostAddress })
    await run(tools.helm, [
      "--kubeconfig",
      cluster.kubeconfigPath,
      "install",
      "fly-tunnel-operator",
      chartDir,
      "--namespace",
      "fly-tunnel-operator",
      "--create-namespace",
      "--wait",
      "--timeout",
      "5m",
      "--set",
      [
        `image.repository=${IMAGE_REPOSITORY}`,
        `image.tag=${IMAGE_TAG}`,
        "image.pullPolicy=Never",
        "flyOrg=personal",
        `flyApiToken=${emulator.token}`,
        `flyApiBaseUrl=${emulator.baseUrl}`,
      ].join(","),
    ])
  })

  afterAll(async () => {
    await emulator?.close()
    await cluster?.stop()
  })

  it("a Service of our class gets an EXTERNAL-IP that carries bytes to its Pods; deleting it empties Fly", async () => {
    await kubectl(["create", "namespace", "echo"])
    // The backend is the operator image's own node: no other image to pull.
    const echo = {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "echo", namespace: "echo" },
      spec: {
        selector: { matchLabels: { app: "echo" } },
        template: {
          metadata: { labels: { app: "echo" } },
          spec: {
            containers: [
              {
                name: "echo",
                image: `${IMAGE_REPOSITORY}:${IMAGE_TAG}`,
                imagePullPolicy: "Never",
                command: [
                  "/nodejs/bin/node",
                  "-e",
                  `require("node:net").createServer((s) => s.pipe(s)).listen(${ECHO_PORT})`,
                ],
              },
            ],
          },
        },
      },
    }
    const service = {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "echo", namespace: "echo" },
      spec: {
        type: "LoadBalancer",
        loadBalancerClass: "fly-tunnel-operator.dev/lb",
        selector: { app: "echo" },
        ports: [{ name: "echo", port: ECHO_PORT, protocol: "TCP" }],
      },
    }
    await kubectl(["apply", "-f", "-"], JSON.stringify({ apiVersion: "v1", kind: "List", items: [echo, service] }))
    await kubectl(["-n", "echo", "rollout", "status", "deployment/echo", "--timeout=180s"])

    const externalIp = await eventually(
      "EXTERNAL-IP of the echo Service",
      async () => {
        const ip = await kubectl([
          "-n",
          "echo",
          "get",
          "svc",
          "echo",
          "-o",
          "jsonpath={.status.loadBalancer.ingress[0].ip}",
        ])
        return /^\d+\.\d+\.\d+\.\d+$/.test(ip) ? ip : undefined
      },
      300_000,
    )
    const state = await emulator.state()
    expect(state.ips.map((ip) => ip.ip)).toEqual([externalIp])

    const publicAddress = emulator.publicAddress(externalIp, ECHO_PORT)
    const sent = `hello through ${externalIp} from kind`
    const { reply } = await exchangeUntil(
      publicAddress.host,
      publicAddress.port,
      sent,
      (data) => data.toString() === sent,
    )
    expect(reply.toString()).toBe(sent)

    await kubectl(["-n", "echo", "delete", "svc", "echo", "--wait=true", "--timeout=180s"])
    const empty = await eventually("Fly to hold no App, Machine or IP", async () => {
      const after = await emulator.state()
      return after.apps.length + after.machines.length + after.ips.length === 0 ? after : undefined
    })
    expect(empty.calls.filter((call) => call.action === "deleteApp" && call.status < 300)).toHaveLength(1)
  })
})
