/** Pinned versions of the real binaries the tests run. Bump here; the cache key follows. */
export const KUBERNETES_VERSION = "v1.36.3"
/** Same frp release as the images the operator deploys (see packages/frp). */
export const FRP_VERSION = "v0.71.0"
export const HELM_VERSION = "v3.19.0"
