import type { MachineHost } from "./MachineHost.ts"

/** The machine host backed by src/runtime, src/proxy and src/network (real frps processes). */
export const runtimeMachineHost = async (_options: {
  frpsPath: string
  network: "auto" | "namespace" | "loopback"
}): Promise<MachineHost> => {
  throw new Error("fly-emulator: the machine runtime (src/runtime) is not wired in yet; omit frpsPath")
}
