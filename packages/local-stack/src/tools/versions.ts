import { FRP_VERSION as FRP_RELEASE } from "@fly-tunnel-operator/frp"

/** Pinned versions of the real binaries the tests run. Bump here; the cache key follows. */
export const KUBERNETES_VERSION = "v1.36.3"
/** The same frp release as the images the operator deploys. */
export const FRP_VERSION = `v${FRP_RELEASE}`
export const HELM_VERSION = "v3.19.0"
