import { execFile } from "node:child_process"
import { mkdtemp, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { promisify } from "node:util"
import {
  GenericContainer,
  getContainerRuntimeClient,
  Network,
  type StartedNetwork,
  type StartedTestContainer,
  Wait,
} from "testcontainers"

/** kind v0.32.0's node image for Kubernetes v1.36 (the release the other tiers run), pinned by its index digest. */
export const KIND_NODE_IMAGE =
  "kindest/node:v1.36.1@sha256:3489c7674813ba5d8b1a9977baea8a6e553784dab7b84759d1014dbd78f7ebd5"

const NODE_NAME = "fto-kind-control-plane"
const POD_SUBNET = "10.244.0.0/16"
const SERVICE_SUBNET = "10.96.0.0/16"

export interface KindCluster {
  /** Admin kubeconfig on this host (the API server through its published port). */
  readonly kubeconfigPath: string
  /** The docker network's gateway: this host as the cluster's Pods reach it. */
  readonly hostAddress: string
  /** Imports an image built on this host into the node's containerd (what `kind load docker-image` does). */
  loadImage(image: string): Promise<void>
  stop(): Promise<void>
}

const run = promisify(execFile)

/** kind's kubeadm configuration (v1beta4), reduced to one control-plane node that also runs workloads. */
const kubeadmConfig = (nodeAddress: string) => `apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
kubernetesVersion: v1.36.1
clusterName: fto-kind
controlPlaneEndpoint: "${NODE_NAME}:6443"
apiServer:
  certSANs: [localhost, "127.0.0.1"]
networking:
  podSubnet: "${POD_SUBNET}"
  serviceSubnet: "${SERVICE_SUBNET}"
---
apiVersion: kubeadm.k8s.io/v1beta4
kind: InitConfiguration
localAPIEndpoint:
  advertiseAddress: "${nodeAddress}"
  bindPort: 6443
nodeRegistration:
  criSocket: "unix:///run/containerd/containerd.sock"
  kubeletExtraArgs:
    - name: "node-ip"
      value: "${nodeAddress}"
# The node image has its images preloaded; preflight would try to pull them.
skipPhases:
  - preflight
---
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: systemd
cgroupRoot: /kubelet
failSwapOn: false
imageGCHighThresholdPercent: 100
evictionHard:
  nodefs.available: "0%"
  nodefs.inodesFree: "0%"
  imagefs.available: "0%"
---
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: "iptables"
conntrack:
  maxPerCore: 0
`

const checked = async (node: StartedTestContainer, command: ReadonlyArray<string>): Promise<string> => {
  const result = await node.exec([...command])
  if (result.exitCode !== 0) {
    throw new Error(`${command.join(" ")} exited ${result.exitCode} in the kind node:\n${result.output}`)
  }
  return result.stdout
}

/**
 * One kind node started with testcontainers the way `kind create cluster` starts it (privileged, its own cgroup
 * namespace, tmpfs /tmp and /run, an anonymous /var), then bootstrapped as kind does: kubeadm init with kind's
 * configuration, the control-plane taint removed, kind's own CNI (kindnetd) applied from the image.
 */
export const startKindCluster = async (): Promise<KindCluster> => {
  const cleanups: Array<() => Promise<unknown>> = []
  const stop = async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {})
  }
  try {
    const network: StartedNetwork = await new Network().start()
    cleanups.push(() => network.stop())
    const client = await getContainerRuntimeClient()
    const inspected = (await client.network.getById(network.getId()).inspect()) as {
      IPAM?: { Config?: ReadonlyArray<{ Gateway?: string }> }
    }
    const hostAddress = inspected.IPAM?.Config?.[0]?.Gateway
    if (hostAddress === undefined) throw new Error(`docker network ${network.getName()} has no gateway address`)

    // kind gives /var an anonymous volume: containerd's snapshots cannot sit on the container's overlay root, and a
    // fresh volume is filled from the image (its preloaded images live in /var/lib/containerd). A named one here.
    const varVolume = `${NODE_NAME}-var-${network.getName().slice(-8)}`
    cleanups.push(() => run("docker", ["volume", "rm", "--force", varVolume]))
    const node = await new GenericContainer(KIND_NODE_IMAGE)
      .withName(`${NODE_NAME}-${network.getName().slice(-8)}`)
      .withHostname(NODE_NAME)
      .withNetwork(network)
      .withNetworkAliases(NODE_NAME)
      .withPrivilegedMode()
      .withSecurityOpt("seccomp=unconfined", "apparmor=unconfined")
      .withTmpFs({ "/tmp": "", "/run": "" })
      .withBindMounts([
        { source: varVolume, target: "/var", mode: "rw" },
        { source: "/lib/modules", target: "/lib/modules", mode: "ro" },
      ])
      .withExposedPorts(6443)
      .withStartupTimeout(180_000)
      .withWaitStrategy(Wait.forLogMessage(/Reached target .*Multi-User System/))
      .start()
    cleanups.push(() => node.stop())
    const nodeAddress = node.getIpAddress(network.getName())

    await node.copyContentToContainer([{ content: kubeadmConfig(nodeAddress), target: "/kind/kubeadm.conf" }])
    await checked(node, ["kubeadm", "init", "--config=/kind/kubeadm.conf", "--skip-token-print"])
    const kubectl = ["kubectl", "--kubeconfig=/etc/kubernetes/admin.conf"]
    await checked(node, [...kubectl, "taint", "nodes", "--all", "node-role.kubernetes.io/control-plane-"])
    // kind templates its CNI manifest with the pod subnet and tells kindnetd where the API server is.
    await checked(node, [
      "sh",
      "-c",
      `sed 's|{{ .PodSubnet }}|${POD_SUBNET}|g' /kind/manifests/default-cni.yaml | ${kubectl.join(" ")} apply -f -`,
    ])
    await checked(node, [
      ...kubectl,
      "-n",
      "kube-system",
      "set",
      "env",
      "daemonset/kindnet",
      `CONTROL_PLANE_ENDPOINT=${NODE_NAME}:6443`,
    ])
    await checked(node, [...kubectl, "wait", "--for=condition=Ready", "nodes", "--all", "--timeout=180s"])

    const dir = await mkdtemp(join(tmpdir(), "fto-kind-"))
    cleanups.push(() => rm(dir, { recursive: true, force: true }))
    const admin = await checked(node, ["cat", "/etc/kubernetes/admin.conf"])
    const kubeconfigPath = join(dir, "kubeconfig")
    await writeFile(
      kubeconfigPath,
      admin.replace(/server: https:\/\/\S+/, `server: https://${node.getHost()}:${node.getMappedPort(6443)}`),
      { mode: 0o600 },
    )

    return {
      kubeconfigPath,
      hostAddress,
      loadImage: async (image) => {
        const archive = join(dir, "image.tar")
        await run("docker", ["save", image, "-o", archive], { maxBuffer: 16 * 1024 * 1024 })
        await node.copyFilesToContainer([{ source: archive, target: "/kind/image.tar" }])
        await checked(node, [
          "ctr",
          "--namespace=k8s.io",
          "images",
          "import",
          "--all-platforms",
          "--digests",
          "/kind/image.tar",
        ])
        await rm(archive, { force: true })
      },
      stop,
    }
  } catch (error) {
    await stop()
    throw error
  }
}
