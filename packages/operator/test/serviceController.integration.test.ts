import type { FlyTunnelStatus } from "@fly-tunnel-operator/api"
import type { EmulatorState } from "@fly-tunnel-operator/fly-emulator"
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest"
import { KubeClient } from "../src/kube/kubeClient.ts"
import { eventually, OperatorHarness, ResourceTypes } from "./support/operatorHarness.ts"

const CLASS = "fly-tunnel-operator.dev/lb"
const FINALIZER = "fly-tunnel-operator.dev/finalizer"
const CONDITION = "fly-tunnel-operator.dev/TunnelReady"
const FLY_HOSTNAME = "fly-tunnel-operator.dev/fly-hostname"

interface ServicePort {
  readonly name: string
  readonly port: number
  readonly protocol?: "TCP" | "UDP"
}

interface Service {
  readonly metadata: {
    readonly uid: string
    readonly resourceVersion: string
    readonly finalizers?: ReadonlyArray<string>
    readonly deletionTimestamp?: string
    readonly annotations?: Record<string, string>
  }
  readonly spec: { readonly type: string; readonly loadBalancerClass?: string }
  readonly status?: {
    readonly loadBalancer?: { readonly ingress?: ReadonlyArray<{ readonly ip?: string; readonly ipMode?: string }> }
    readonly conditions?: ReadonlyArray<{
      readonly type: string
      readonly status: string
      readonly reason: string
      readonly message: string
    }>
  }
}

interface Tunnel {
  readonly metadata: {
    readonly uid: string
    readonly resourceVersion: string
    readonly ownerReferences?: ReadonlyArray<{
      readonly kind: string
      readonly uid: string
      readonly controller?: boolean
    }>
  }
  readonly spec: {
    readonly ports: ReadonlyArray<{ readonly name: string; readonly port: number; readonly protocol: string }>
    readonly machineSize: string
    readonly regions: ReadonlyArray<string>
    readonly frpc: { readonly replicas: number }
  }
  readonly status?: FlyTunnelStatus
}

interface CoreEvent {
  readonly type: string
  readonly reason: string
  readonly message: string
}

describe("Service controller against the local control plane and the Fly emulator", () => {
  const harness = new OperatorHarness({
    kubeconfigPath: inject("controlPlane").kubeconfigPath,
    tools: inject("tools"),
    machineRuntime: false,
  })

  const applyManifest = (manifest: object) => harness.applyManifest(manifest)

  /** The test owns every spec field it applies; what it leaves out on a later apply is removed (SSA). */
  const applyService = (
    name: string,
    options: {
      readonly ports?: ReadonlyArray<ServicePort>
      readonly annotations?: Record<string, string>
      readonly type?: string
      readonly loadBalancerClass?: string | undefined
    } = {},
  ) => {
    const type = options.type ?? "LoadBalancer"
    const loadBalancerClass = "loadBalancerClass" in options ? options.loadBalancerClass : CLASS
    return applyManifest({
      apiVersion: "v1",
      kind: "Service",
      metadata: { name, namespace: harness.namespace, annotations: options.annotations ?? {} },
      spec: {
        type,
        ...(loadBalancerClass === undefined ? {} : { loadBalancerClass }),
        selector: { app: name },
        ports: options.ports ?? [{ name: "http", port: 80 }],
      },
    })
  }

  const service = (name: string) => harness.getJson<Service>(ResourceTypes.Service, name, harness.namespace)
  const tunnel = (name: string) => harness.getJson<Tunnel>(ResourceTypes.FlyTunnel, name, harness.namespace)
  const flyState = (): Promise<EmulatorState> => harness.emulator.state()

  const events = (name: string): Promise<{ readonly items: ReadonlyArray<CoreEvent> }> =>
    harness.runEffect(
      KubeClient.use((kube) =>
        kube.list(ResourceTypes.CoreEvent, {
          namespace: harness.namespace,
          fieldSelector: `involvedObject.kind=Service,involvedObject.name=${name}`,
        }),
      ),
    ) as Promise<unknown> as Promise<{ readonly items: ReadonlyArray<CoreEvent> }>

  const eventWith = (name: string, reason: string) =>
    eventually(`Event ${reason} on Service ${name}`, async () =>
      (await events(name)).items.find((event) => event.reason === reason),
    )

  const condition = (current: Service | undefined) =>
    current?.status?.conditions?.find((entry) => entry.type === CONDITION)

  /** The Service once its ingress shows the Ready tunnel's address. */
  const publishedService = (name: string) =>
    eventually(
      `Service ${name} to show its tunnel's address`,
      async () => {
        const [current, owned] = await Promise.all([service(name), tunnel(name)])
        const address = owned?.status?.addresses?.find((entry) => entry.type === "v4")?.ip
        const ipv6 = owned?.status?.addresses?.find((entry) => entry.type === "v6")?.ip
        const ingress = current?.status?.loadBalancer?.ingress
        return address !== undefined && ingress?.[0]?.ip === address && condition(current)?.status === "True"
          ? { service: current as Service, tunnel: owned as Tunnel, address, ipv6 }
          : undefined
      },
      120_000,
    )

  const appOf = (state: EmulatorState, tunnelUid: string) => state.apps.find((app) => app.name.endsWith(tunnelUid))
  const liveMachines = (state: EmulatorState, app: string) =>
    state.machines.filter((machine) => machine.app === app && machine.state !== "destroyed")
  const publishedPorts = (machine: EmulatorState["machines"][number]) =>
    ((machine.config as { services?: ReadonlyArray<{ ports: ReadonlyArray<{ port: number }> }> }).services ?? [])
      .flatMap((entry) => entry.ports.map((port) => port.port))
      .sort((a, b) => a - b)

  beforeAll(async () => {
    await harness.start()
    harness.startOperator()
  })
  afterAll(() => harness.stop())

  it("gives a Service of our class the tunnel's address, shown by kubectl get svc, with Events", async () => {
    await applyService("web", { ports: [{ name: "http", port: 80 }] })
    const { service: ready, tunnel: owned, address, ipv6 } = await publishedService("web")

    expect(ready.status?.loadBalancer?.ingress).toEqual([
      { ip: address, ipMode: "Proxy" },
      { ip: ipv6, ipMode: "Proxy" },
    ])
    expect(ready.metadata.finalizers).toContain(FINALIZER)
    expect(owned.metadata.ownerReferences).toEqual([
      expect.objectContaining({ kind: "Service", uid: ready.metadata.uid, controller: true }),
    ])
    expect(owned.spec.ports).toEqual([expect.objectContaining({ name: "http", port: 80, protocol: "TCP" })])

    const { stdout } = await harness.kubectl("get", "svc", "web", "-n", harness.namespace, "--no-headers")
    const columns = stdout.trim().split(/\s+/)
    // NAME TYPE CLUSTER-IP EXTERNAL-IP PORT(S) AGE
    expect(columns[0]).toBe("web")
    expect(columns[1]).toBe("LoadBalancer")
    expect(columns[3]).toBe(`${address},${ipv6}`)

    expect((await eventWith("web", "TunnelCreated")).type).toBe("Normal")
    const assigned = await eventWith("web", "AddressAssigned")
    expect(assigned.type).toBe("Normal")
    expect(assigned.message).toContain(address)
    // Provisioning steps are progress, not failures: no Warning on a Service whose tunnel came up cleanly.
    expect((await events("web")).items.filter((event) => event.type === "Warning")).toEqual([])
  })

  it("leaves a Service without a class and one of another class byte-for-byte unchanged", async () => {
    await applyService("unclassed", { loadBalancerClass: undefined })
    await applyService("foreign", { loadBalancerClass: "example.com/lb" })
    const before = { unclassed: await service("unclassed"), foreign: await service("foreign") }
    expect(before.unclassed).toBeDefined()
    expect(before.foreign).toBeDefined()

    // Ours is created after them: once it converged, the controller has seen the other two.
    await applyService("beside", { ports: [{ name: "http", port: 81 }] })
    await publishedService("beside")
    // A restarted operator lists every Service and reconciles them before one created after the restart.
    await harness.stopOperator()
    harness.startOperator()
    await applyService("beside-again", { ports: [{ name: "http", port: 83 }] })
    await publishedService("beside-again")

    expect(await service("unclassed")).toEqual(before.unclassed)
    expect(await service("foreign")).toEqual(before.foreign)
    expect(await tunnel("unclassed")).toBeUndefined()
    expect(await tunnel("foreign")).toBeUndefined()
    expect((await events("unclassed")).items).toEqual([])
    expect((await events("foreign")).items).toEqual([])
  })

  it("follows a port added and removed: same address; a UDP port gets its own Machine, the TCP one stays as it was", async () => {
    await applyService("ports", { ports: [{ name: "http", port: 82 }] })
    const first = await publishedService("ports")
    const app = appOf(await flyState(), first.tunnel.metadata.uid)?.name ?? ""
    const [machine] = liveMachines(await flyState(), app)
    expect(machine).toBeDefined()
    const tcpConfig = machine?.config

    await applyService("ports", {
      ports: [
        { name: "http", port: 82 },
        { name: "dns", port: 5353, protocol: "UDP" },
      ],
    })
    const udpMachine = await eventually("a Machine for the UDP port", async () => {
      const current = await tunnel("ports")
      const machines = liveMachines(await flyState(), app)
      const udp = machines.find((entry) => entry.name === "frps-ord-udp")
      return current?.spec.ports.length === 2 && machines.length === 2 && udp && publishedPorts(udp).includes(5353)
        ? udp
        : undefined
    })
    expect((await tunnel("ports"))?.spec.ports).toEqual([
      expect.objectContaining({ name: "http", port: 82, protocol: "TCP" }),
      expect.objectContaining({ name: "dns", port: 5353, protocol: "UDP" }),
    ])
    // The address never left the Service. (Without real frps here the UDP frpc cannot log in, so the tunnel is not
    // Ready again: the published addresses stay while it holds them.)
    const kept = await service("ports")
    expect(kept?.status?.loadBalancer?.ingress).toEqual(first.service.status?.loadBalancer?.ingress)
    expect((await tunnel("ports"))?.status?.addresses?.[0]?.ip).toBe(first.address)
    // The TCP Machine was not touched: same Machine, same config, and it publishes no UDP.
    const tcpMachine = liveMachines(await flyState(), app).find((entry) => entry.id === machine?.id)
    expect(tcpMachine?.config).toEqual(tcpConfig)
    expect(publishedPorts(udpMachine)).not.toContain(82)

    await applyService("ports", { ports: [{ name: "dns", port: 5353, protocol: "UDP" }] })
    await eventually("only the UDP Machine left", async () => {
      const machines = liveMachines(await flyState(), app)
      return machines.length === 1 && machines[0]?.id === udpMachine.id ? true : undefined
    })
    expect((await tunnel("ports"))?.spec.ports).toEqual([
      expect.objectContaining({ name: "dns", port: 5353, protocol: "UDP" }),
    ])
    expect((await service("ports"))?.status?.loadBalancer?.ingress).toEqual(first.service.status?.loadBalancer?.ingress)
    const state = await flyState()
    expect(
      state.ips
        .filter((ip) => ip.app === app)
        .map((ip) => ip.type)
        .sort(),
    ).toEqual(["v4", "v6"])
  })

  it("follows an annotation change", async () => {
    await applyService("tuned")
    const first = await publishedService("tuned")
    expect(first.tunnel.spec.frpc.replicas).toBe(1)
    expect(first.tunnel.spec.machineSize).toBe("shared-cpu-1x")

    await applyService("tuned", {
      annotations: {
        "fly-tunnel-operator.dev/frpc-replicas": "2",
        "fly-tunnel-operator.dev/fly-machine-size": "shared-cpu-2x",
      },
    })
    const followed = await eventually("the FlyTunnel to follow the annotations", async () => {
      const current = await tunnel("tuned")
      return current?.spec.frpc.replicas === 2 && current.spec.machineSize === "shared-cpu-2x" ? current : undefined
    })
    expect(followed.metadata.uid).toBe(first.tunnel.metadata.uid)
    await eventually("the Machine to get the new size", async () => {
      const machines = liveMachines(await flyState(), appOf(await flyState(), followed.metadata.uid)?.name ?? "")
      const guest = (machines[0]?.config as { guest?: { cpus?: number } } | undefined)?.guest
      return machines.length === 1 && guest?.cpus === 2 ? true : undefined
    })
    expect((await publishedService("tuned")).address).toBe(first.address)

    await applyService("tuned", { annotations: { "fly-tunnel-operator.dev/force-delete": "true" } })
    await eventually("force-delete passed to the FlyTunnel", async () => {
      const current = (await tunnel("tuned")) as { metadata: { annotations?: Record<string, string> } } | undefined
      return current?.metadata.annotations?.["fly-tunnel-operator.dev/force-delete"] === "true" ? true : undefined
    })
  })

  it("refuses an invalid annotation with a condition and a Warning, leaving the tunnel as it was", async () => {
    await applyService("typo")
    const first = await publishedService("typo")
    const before = await tunnel("typo")

    await applyService("typo", { annotations: { "fly-tunnel-operator.dev/fly-machine-size": "huge" } })
    const refused = await eventually("the Service condition to name the annotation", async () => {
      const current = await service("typo")
      const entry = condition(current)
      return entry?.status === "False" && entry.reason === "InvalidSpec" ? entry : undefined
    })
    expect(refused.message).toContain("fly-tunnel-operator.dev/fly-machine-size")
    expect(refused.message).toContain('"huge"')
    expect(refused.message).toContain("shared-cpu-1x")
    const warning = await eventWith("typo", "InvalidSpec")
    expect(warning.type).toBe("Warning")
    expect(warning.message).toContain("fly-tunnel-operator.dev/fly-machine-size")
    expect(warning.message).toContain('"huge"')
    expect(warning.message).toContain("performance-1x")

    const after = await tunnel("typo")
    expect(after?.spec).toEqual(before?.spec)
    expect(after?.metadata.resourceVersion).toBe(before?.metadata.resourceVersion)
    // The working addresses stay published while the annotation is wrong.
    expect((await service("typo"))?.status?.loadBalancer?.ingress).toEqual(first.service.status?.loadBalancer?.ingress)
  })

  it("explains a failing tunnel on the pending Service with a condition and a Warning", async () => {
    // A well-formed region Fly does not have: the annotation passes the schema, Fly's region list refuses it.
    await applyService("nowhere", { annotations: { "fly-tunnel-operator.dev/fly-region": "zzz" } })
    const waiting = await eventually("the Service condition to report the unknown region", async () => {
      const entry = condition(await service("nowhere"))
      return entry?.status === "False" && entry.reason === "InvalidSpec" ? entry : undefined
    })
    expect(waiting.message).toContain("zzz")
    const warning = await eventually("a Warning on the Service", async () =>
      (await events("nowhere")).items.find((event) => event.type === "Warning"),
    )
    expect(warning.reason).toBe(waiting.reason)
    expect(warning.message).toContain("zzz")
    expect((await service("nowhere"))?.status?.loadBalancer?.ingress ?? []).toEqual([])
    const { stdout } = await harness.kubectl("get", "svc", "nowhere", "-n", harness.namespace, "--no-headers")
    expect(stdout.trim().split(/\s+/)[3]).toBe("<pending>")
  })

  it("removes the tunnel and its fly-hostname annotation when the type changes away from LoadBalancer", async () => {
    await applyService("retyped")
    const first = await publishedService("retyped")
    const app = appOf(await flyState(), first.tunnel.metadata.uid)?.name ?? ""
    expect(app).not.toBe("")
    await eventually("<app>.fly.dev on the Service", async () =>
      (await service("retyped"))?.metadata.annotations?.[FLY_HOSTNAME] === `${app}.fly.dev` ? true : undefined,
    )

    await applyService("retyped", { type: "ClusterIP", loadBalancerClass: undefined })
    const released = await eventually(
      "the Service to be released",
      async () => {
        const current = await service("retyped")
        return current !== undefined && !(current.metadata.finalizers ?? []).includes(FINALIZER) ? current : undefined
      },
      120_000,
    )
    expect(await tunnel("retyped")).toBeUndefined()
    expect(released.spec.type).toBe("ClusterIP")
    expect(released.status?.loadBalancer?.ingress ?? []).toEqual([])
    expect(condition(released)).toBeUndefined()
    // Our annotation went with our other fields (the apply that no longer names it); the user's applied none.
    expect(released.metadata.annotations ?? {}).toEqual({})
    const state = await flyState()
    expect(state.apps.filter((entry) => entry.name === app)).toEqual([])
    expect(state.ips.filter((ip) => ip.app === app)).toEqual([])
    expect(liveMachines(state, app)).toEqual([])
  })

  it("tears the tunnel down when the Service is deleted, without hanging", async () => {
    await applyService("gone")
    const first = await publishedService("gone")
    const app = appOf(await flyState(), first.tunnel.metadata.uid)?.name ?? ""
    expect(app).not.toBe("")

    await harness.kubectl("delete", "svc", "gone", "-n", harness.namespace, "--wait=true", "--timeout=120s")
    expect(await service("gone")).toBeUndefined()
    await eventually("the FlyTunnel to be gone", async () => ((await tunnel("gone")) === undefined ? true : undefined))
    const state = await flyState()
    expect(state.apps.filter((entry) => entry.name === app)).toEqual([])
    expect(state.ips.filter((ip) => ip.app === app)).toEqual([])
    expect(liveMachines(state, app)).toEqual([])
  })
})
