import type { BearerToken } from "./bearerToken.ts"

/** What the TLS connection to the API server is made with (PEM bytes as the kubeconfig gave them). */
export interface KubeTls {
  readonly ca?: Buffer | undefined
  readonly cert?: Buffer | undefined
  readonly key?: Buffer | undefined
  /** The name the server's certificate is checked against, when not the server URL's host. */
  readonly servername?: string | undefined
  readonly rejectUnauthorized: boolean
}

/** Where the API server is and how the operator proves who it is: a kubeconfig context or the Pod's service account. */
export interface KubeEndpoint {
  /** `https://host:port`, without a trailing slash. */
  readonly server: string
  readonly tls: KubeTls
  readonly token: BearerToken
}
