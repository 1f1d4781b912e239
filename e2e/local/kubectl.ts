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

/** A LoadBalancer Service of our class with one TCP port and no selector (its backend is a process on the ClusterIP). */
export const loadBalancerService = (
  namespace: string,
  name: string,
  port: number,
  annotations: Record<string, string> = {},
) => ({
  apiVersion: "v1",
  kind: "Service",
  metadata: { name, namespace, annotations },
  spec: {
    type: "LoadBalancer",
    loadBalancerClass: "fly-tunnel-operator.dev/lb",
    ports: [{ name: "echo", port, protocol: "TCP" }],
  },
})
