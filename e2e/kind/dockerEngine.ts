import { getContainerRuntimeClient } from "testcontainers"

/**
 * Why the kind tier cannot run here, or undefined when a Docker engine answers. testcontainers looks for one the
 * usual ways (DOCKER_HOST, ~/.testcontainers.properties, the default socket); a docker client alone is not enough.
 */
export const dockerEngineUnavailable = async (): Promise<string | undefined> => {
  try {
    const client = await getContainerRuntimeClient()
    return client.info.containerRuntime.host === "" ? "the container runtime reported no host" : undefined
  } catch (error) {
    return `no Docker engine answers (${error instanceof Error ? error.message.split("\n")[0] : String(error)})`
  }
}
