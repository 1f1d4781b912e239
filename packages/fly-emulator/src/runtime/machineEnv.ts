/** What Fly tells a machine about itself through its environment. */
export interface MachineIdentity {
  readonly id: string
  readonly app: string
  readonly instanceId: string
  readonly image: string
  readonly region?: string | undefined
  readonly privateIp?: string | undefined
}

/**
 * A machine's environment: `config.env` merged with the app secrets (the caller's `env`), then the
 * variables Fly sets on every machine, which a config cannot override.
 */
export const machineEnv = (
  identity: MachineIdentity,
  env: Readonly<Record<string, string>>,
): Record<string, string> => ({
  PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
  ...env,
  FLY_APP_NAME: identity.app,
  FLY_MACHINE_ID: identity.id,
  FLY_ALLOC_ID: identity.id,
  FLY_MACHINE_VERSION: identity.instanceId,
  FLY_REGION: identity.region ?? "iad",
  FLY_PRIVATE_IP: identity.privateIp ?? "",
  FLY_IMAGE_REF: identity.image,
  FLY_PROCESS_GROUP: "app",
})
