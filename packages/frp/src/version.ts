/** The frp release the operator deploys and the tests run (packages/testkit builds the same). */
export const FRP_VERSION = "0.71.0"

/**
 * Official images, pinned by digest. The digests are the ones published for ghcr.io
 * `fatedier/frps|frpc:v0.71.0` as recorded in public deployment notes (layertwo/tunnels); they
 * were not re-checked against the registry from here (no registry access). Verify with
 * `crane digest ghcr.io/fatedier/frps:v0.71.0` when bumping.
 */
export const FRPS_IMAGE =
  "ghcr.io/fatedier/frps:v0.71.0@sha256:cd8b947ba61678b200baa4f71ccc33f3c52e4e2cc0059700ba3b8354e36af7c3"
export const FRPC_IMAGE =
  "ghcr.io/fatedier/frpc:v0.71.0@sha256:99ece6a2b62cfc68731e0df289af804ff1c699911cfc47871856434f1d6d53ee"

/** Environment variables the configs read through frp's `{{ .Envs.X }}` templating. */
export const Env = {
  /** The per-tunnel token: a Fly app secret for frps, a Kubernetes Secret for frpc. */
  token: "FRP_TOKEN",
  /** The frpc Pod's name (Downward API): makes proxy names unique per replica. */
  podName: "POD_NAME",
  /** The directory frpc's TLS files are mounted in: its config names them through it, as it names the token. */
  tlsDir: "FRPC_TLS_DIR",
} as const
