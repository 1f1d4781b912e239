import { stringify } from "yaml"

/** How a kubeconfig user proves who it is: a client certificate, or a bearer token. */
type KubeconfigCredentials =
  | { readonly clientCertificatePem: string; readonly clientKeyPem: string }
  | { readonly token: string }

const base64 = (text: string) => Buffer.from(text, "utf8").toString("base64")

/**
 * A one-cluster kubeconfig with everything inline (no file references), so it stays valid when
 * copied, and is accepted by kubectl and @kubernetes/client-node alike.
 */
export const renderKubeconfig = (options: {
  readonly server: string
  readonly caPem: string
  readonly user: string
  readonly credentials: KubeconfigCredentials
}): string => {
  const user =
    "token" in options.credentials
      ? { token: options.credentials.token }
      : {
          "client-certificate-data": base64(options.credentials.clientCertificatePem),
          "client-key-data": base64(options.credentials.clientKeyPem),
        }
  return stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [
      { name: "local", cluster: { server: options.server, "certificate-authority-data": base64(options.caPem) } },
    ],
    users: [{ name: options.user, user }],
    contexts: [{ name: options.user, context: { cluster: "local", user: options.user, namespace: "default" } }],
    "current-context": options.user,
    preferences: {},
  })
}
