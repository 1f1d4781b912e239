import { Context, type Duration } from "effect"

/** Install-wide settings the Tunnel controller provisions with. */
export class TunnelSettings extends Context.Service<
  TunnelSettings,
  {
    readonly flyOrg: string
    readonly frpsImage: string
    readonly frpcImage: string
    /** Where frpc Secrets and Deployments live. */
    readonly operatorNamespace: string
    /** Where the Go operator left its frpc Deployments and ConfigMaps, removed once their App is adopted. */
    readonly goOperatorNamespace: string
    /**
     * While a certificate waits for its DNS, how often Fly is asked to check it again (default 15 s: people edit DNS
     * in minutes, and an issued certificate is never checked).
     */
    readonly certificatePoll?: Duration.Input
  }
>()("@fly-tunnel-operator/operator/tunnel/TunnelSettings") {}
