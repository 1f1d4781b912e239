import { execFile } from "node:child_process"

/** The real kubectl as cluster admin: `kubectl(args, stdin?)` resolves with stdout, rejects with stderr. */
export const makeKubectl =
  (kubectl: string, kubeconfigPath: string) =>
  (args: ReadonlyArray<string>, input?: string): Promise<string> =>
    new Promise((resolve, reject) => {
      const child = execFile(kubectl, ["--kubeconfig", kubeconfigPath, ...args], (error, stdout, stderr) => {
        if (error) reject(new Error(`kubectl ${args.join(" ")}: ${stderr.trim() || error.message}`))
        else resolve(stdout)
      })
      if (input !== undefined) child.stdin?.end(input)
    })

export type Kubectl = ReturnType<typeof makeKubectl>

export interface ServicePort {
  readonly name: string
  readonly port: number
  readonly protocol: "TCP" | "UDP"
}

/**
 * A LoadBalancer Service of our class with no selector (its backend is a process on the ClusterIP): one TCP port, or
 * the ports given.
 */
export const loadBalancerService = (
  namespace: string,
  name: string,
  port: number,
  annotations: Record<string, string> = {},
  ports: ReadonlyArray<ServicePort> = [{ name: "echo", port, protocol: "TCP" }],
) => ({
  apiVersion: "v1",
  kind: "Service",
  metadata: { name, namespace, annotations },
  spec: {
    type: "LoadBalancer",
    loadBalancerClass: "fly-tunnel-operator.dev/lb",
    ports: ports.map((entry) => ({ ...entry })),
  },
})
