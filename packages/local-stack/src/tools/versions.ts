import { FRP_VERSION as FRP_RELEASE } from "@fly-tunnel-operator/frp"

/** Pinned versions of the real binaries the tests run. Bump here; the cache key follows. */
export const KUBERNETES_VERSION = "v1.36.3"
/** The same frp release as the images the operator deploys. */
export const FRP_VERSION = `v${FRP_RELEASE}`
export const HELM_VERSION = "v3.19.0"
/** Lints the GitHub workflows (.github/workflows/). */
export const ACTIONLINT_VERSION = "v1.7.12"
/** The CNCF distribution registry: an OCI registry on loopback for `helm push` / `helm install oci://`. */
export const DISTRIBUTION_VERSION = "v3.1.2"
