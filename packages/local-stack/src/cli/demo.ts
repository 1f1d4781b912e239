import { execFile } from "node:child_process"
import { createSocket } from "node:dgram"
import { createWriteStream } from "node:fs"
import { connect } from "node:net"
import { dirname, join } from "node:path"
import { startLocalStack } from "../localStack/localStack.ts"
import { deployOperator } from "../localStack/operatorDeployment.ts"
import { startEchoBackend } from "../serviceNetwork/echoBackend.ts"
import { ensureTools } from "../tools/ensureTools.ts"

const SAMPLE = { namespace: "default", name: "echo", port: 8080 }
const OPERATOR_NAMESPACE = "fly-tunnel-operator"

/** The sample FlyTunnel `./dev start` prints for its LAN host. */
export const lanHostSample = (address: string): string =>
  [
    "apiVersion: fly-tunnel-operator.dev/v1alpha1",
    "kind: FlyTunnel",
    "metadata:",
    "  name: lan-host",
    "  namespace: default",
    "spec:",
    "  target:",
    "    address:",
    `      host: ${address}`,
    "  ports:",
    "    - name: echo",
    "      port: 9000",
    "  regions: [ord]",
  ].join("\n")

const progress = (line: string) => process.stderr.write(`[start] ${line}\n`)
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Sends a datagram and waits up to two seconds for it to come back. */
const echoesDatagram = (host: string, port: number, text: string) =>
  new Promise<boolean>((resolve) => {
    const socket = createSocket("udp4")
    const done = (ok: boolean) => {
      clearTimeout(timer)
      socket.close()
      resolve(ok)
    }
    const timer = setTimeout(() => done(false), 2_000)
    socket.on("message", (message) => done(message.toString() === text))
    socket.on("error", () => done(false))
    socket.send(text, port, host)
  })

/** Sends a line and waits for it to come back (no half-close: frp drops both directions on FIN). */
const echoes = (host: string, port: number, text: string) =>
  new Promise<boolean>((resolve) => {
    const socket = connect({ host, port }, () => socket.write(text))
    let reply = ""
    socket.setTimeout(3_000, () => socket.destroy())
    socket.on("data", (chunk) => {
      reply += chunk.toString()
      if (reply === text) socket.destroy()
    })
    socket.on("error", () => {})
    socket.on("close", () => resolve(reply === text))
  })

const pollFor = async <A>(what: string, check: () => Promise<A | undefined>, timeoutMs: number): Promise<A> => {
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; await sleep(500)) {
    const value = await check().catch(() => undefined)
    if (value !== undefined) return value
  }
  throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}`)
}

/**
 * The local demo behind `./dev start` with no kubeconfig and no token: the local stack, the CRD and the chart's
 * RBAC, the operator as its own process (as its ServiceAccount), and a sample LoadBalancer Service whose echo
 * backend listens on its ClusterIP; prints how to look at it and stays up until Ctrl-C, then removes everything.
 */
export const runLocalDemo = async (): Promise<void> => {
  if (process.getuid?.() !== 0) {
    throw new Error(
      "the local stack needs root: it creates network namespaces (run `./dev start` as root, e.g. `sudo -E ./dev start`)",
    )
  }
  const tools = await ensureTools({ onProgress: progress })
  const stack = await startLocalStack({ tools, log: progress })
  const cleanups: Array<() => Promise<void>> = [() => stack.stop()]
  const stop = async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch((error) => progress(String(error)))
  }
  try {
    progress("installing the CRD and the chart's RBAC")
    const deployment = await deployOperator(stack, { tools, namespace: OPERATOR_NAMESPACE })
    const operatorLog = join(stack.controlPlane.dir, "logs", "operator.log")
    const logStream = createWriteStream(operatorLog)
    const operator = await deployment.start({ log: (line) => logStream.write(`${line}\n`) })
    cleanups.push(async () => {
      await operator.stop()
      logStream.end()
    })
    progress(
      `operator running (pid ${operator.pid}) as ServiceAccount ${OPERATOR_NAMESPACE}/${deployment.identity.serviceAccount}`,
    )

    const kubectl = (args: ReadonlyArray<string>, input?: string) =>
      new Promise<string>((resolve, reject) => {
        const child = execFile(
          tools.kubectl,
          ["--kubeconfig", stack.controlPlane.kubeconfigPath, ...args],
          (error, stdout, stderr) => (error ? reject(new Error(stderr || error.message)) : resolve(stdout)),
        )
        if (input !== undefined) child.stdin?.end(input)
      })
    progress(
      `applying the sample Service ${SAMPLE.namespace}/${SAMPLE.name} (LoadBalancer, port ${SAMPLE.port} TCP and UDP)`,
    )
    await kubectl(
      ["apply", "-f", "-"],
      JSON.stringify({
        apiVersion: "v1",
        kind: "Service",
        metadata: { name: SAMPLE.name, namespace: SAMPLE.namespace },
        spec: {
          type: "LoadBalancer",
          loadBalancerClass: "fly-tunnel-operator.dev/lb",
          ports: [
            { name: "echo", port: SAMPLE.port, protocol: "TCP" },
            { name: "echo-udp", port: SAMPLE.port, protocol: "UDP" },
          ],
        },
      }),
    )
    const jsonpath = (path: string) =>
      kubectl(["-n", SAMPLE.namespace, "get", "svc", SAMPLE.name, "-o", `jsonpath={${path}}`])
    const clusterIp = await jsonpath(".spec.clusterIP")
    const backend = await startEchoBackend({ host: clusterIp, port: SAMPLE.port, exec: stack.serviceNetwork.exec })
    cleanups.push(() => backend.stop())
    progress(`echo backend listening on the ClusterIP ${clusterIp}:${SAMPLE.port} (in the service network)`)

    progress("waiting for EXTERNAL-IP (App, a Machine for TCP and one for UDP, IPv4 and IPv6, frpc)")
    const externalIp = await pollFor(
      "EXTERNAL-IP",
      async () => (await jsonpath(".status.loadBalancer.ingress[0].ip")) || undefined,
      180_000,
    )
    const target = stack.emulator.publicAddress(externalIp, SAMPLE.port)
    await pollFor(
      "bytes through the tunnel",
      async () => ((await echoes(target.host, target.port, "hello\n")) ? true : undefined),
      60_000,
    )
    progress(`EXTERNAL-IP ${externalIp}: bytes flow through the public address`)
    await pollFor(
      "a datagram through the tunnel",
      async () => ((await echoesDatagram(target.host, target.port, "hello\n")) ? true : undefined),
      60_000,
    )
    progress(`EXTERNAL-IP ${externalIp}: datagrams come back too (UDP, on the IPv4 only: Fly has no UDP over IPv6)`)
    // The tunnel's IPv6 follows the IPv4 in the ingress (Fly gives one to every App for free, and the sample does not
    // opt out): its absence is worth saying, not skipping.
    const ipv6 = await jsonpath(".status.loadBalancer.ingress[1].ip")
    const targetV6 = ipv6 === "" ? undefined : stack.emulator.publicAddress(ipv6, SAMPLE.port)
    if (targetV6 === undefined) {
      progress(
        `no IPv6 in ${SAMPLE.namespace}/${SAMPLE.name}'s ingress, though the sample does not opt out: see the AddressReady condition of its FlyTunnel (kubectl describe flytunnel ${SAMPLE.name})`,
      )
    } else {
      await pollFor(
        "bytes through the IPv6",
        async () => ((await echoes(targetV6.host, targetV6.port, "hello\n")) ? true : undefined),
        60_000,
      )
      progress(`IPv6 ${ipv6}: bytes flow through it too`)
    }

    const kubectlDir = dirname(tools.kubectl)
    process.stdout.write(`
Local stack is up. In another shell (as root):

  export KUBECONFIG=${stack.controlPlane.kubeconfigPath}
  export PATH=${kubectlDir}:$PATH            # kubectl
  export FLY_API_BASE_URL=${stack.emulator.baseUrl}   # the Fly emulator
  export METRICS_URL=${operator.metricsUrl}
  export BACKEND_EXEC="${stack.serviceNetwork.backendExec}"   # runs a program where ClusterIPs are bindable

  kubectl get svc ${SAMPLE.name}; kubectl get flytunnels -A
  curl -s $FLY_API_BASE_URL/_emulator/state     # what exists on "Fly": apps, machines, IPs, calls
  curl -s $METRICS_URL | grep -E '^(controller_reconcile_total|workqueue_depth|fly_api_requests_total)'

  # bytes through the public address, back from the echo backend on ${clusterIp}:${SAMPLE.port}:
  node -e 's=require("net").connect(${target.port},"${target.host}",()=>s.write("hello\\n"));s.on("data",d=>{process.stdout.write(d);s.destroy()})'
  printf 'hello\\n' | nc -q1 ${target.host} ${target.port}   # the same with netcat, if installed
  printf 'hello\\n' | nc -u -q1 ${target.host} ${target.port}   # a datagram, over UDP${
    targetV6 === undefined
      ? ""
      : `
  printf 'hello\\n' | nc -q1 ${targetV6.host} ${targetV6.port}   # and through the IPv6`
  }

  # your own backend: create a LoadBalancer Service of class fly-tunnel-operator.dev/lb, then
  # $BACKEND_EXEC <program listening on its ClusterIP:port>

  # an address target: a LAN host at ${stack.lanHost.address} (a network namespace; a private address, which the
  # default policy allows — 127.0.0.1 or 169.254.169.254 would be refused). Run a program there, e.g. an echo server:
  export LAN_EXEC="${stack.lanHost.execCommand}"
  $LAN_EXEC node -e 'require("net").createServer(s=>s.pipe(s)).listen(9000,"${stack.lanHost.address}")' &
  kubectl apply -f - <<'YAML'
${lanHostSample(stack.lanHost.address)}
YAML
  kubectl get flytunnel lan-host    # ADDRESS: its public address, port 9000

Operator logs: ${operatorLog}
Ctrl-C stops everything and removes it.
`)
    await new Promise<void>((resolve) => {
      process.on("SIGINT", resolve)
      process.on("SIGTERM", resolve)
    })
    progress("stopping: operator, backend, node agent, Fly emulator, control plane, service network")
  } finally {
    await stop()
    progress("removed everything")
  }
}

if (import.meta.main) {
  const exitCode = await runLocalDemo().then(
    () => 0,
    (error: unknown) => {
      process.stderr.write(`./dev start: ${error instanceof Error ? error.message : String(error)}\n`)
      return 1
    },
  )
  // Everything was stopped; leftover handles (watches, sockets) must not keep the command alive.
  process.exit(exitCode)
}
