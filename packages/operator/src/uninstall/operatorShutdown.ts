import type { V1Pod } from "@kubernetes/client-node"
import { Clock, Effect } from "effect"
import { KubeClient } from "../kube/kubeClient.ts"
import { Deployment, type ResourceType } from "../kube/resourceType.ts"

const Pod: ResourceType<V1Pod> = { group: "", version: "v1", kind: "Pod", plural: "pods", namespaced: true }

/**
 * Scales the operator's Deployment to zero and waits until none of its Pods is left, so that no operator re-adds a
 * finalizer or re-creates a tunnel once the hook releases the Services. Returns the Pods still running at `deadline`.
 */
export const stopOperator = Effect.fn("stopOperator")(function* (
  options: { readonly namespace: string; readonly deployment: string; readonly selector: string },
  deadline: number,
  log: (line: string) => Effect.Effect<void>,
) {
  const kube = yield* KubeClient
  const scaled = yield* kube
    .mergePatch(Deployment, options.deployment, options.namespace, { spec: { replicas: 0 } })
    .pipe(
      Effect.as(true),
      Effect.catchTag("KubeNotFound", () => Effect.succeed(false)),
    )
  yield* log(
    scaled
      ? `scaled Deployment ${options.namespace}/${options.deployment} to 0; waiting for its Pods to stop`
      : `Deployment ${options.namespace}/${options.deployment} not found; waiting for operator Pods to be gone`,
  )
  const running = kube
    .list(Pod, { namespace: options.namespace, labelSelector: options.selector })
    .pipe(Effect.map((list) => list.items.map((pod) => pod.metadata?.name ?? "")))
  let pods = yield* running
  while (pods.length > 0 && (yield* Clock.currentTimeMillis) < deadline) {
    yield* Effect.sleep("1 second")
    pods = yield* running
  }
  return pods
})
