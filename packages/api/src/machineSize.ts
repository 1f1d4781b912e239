import { Schema } from "effect"

/** A Fly Machine's guest, as the Machines API takes it (`config.guest`). */
export interface Guest {
  readonly cpu_kind: "shared" | "performance"
  readonly cpus: number
  readonly memory_mb: number
}

/** Fly's CPU presets (flyctl's machine presets). GPU presets are left out: frps has no use for them. */
export const machineGuests = {
  "shared-cpu-1x": { cpu_kind: "shared", cpus: 1, memory_mb: 256 },
  "shared-cpu-2x": { cpu_kind: "shared", cpus: 2, memory_mb: 512 },
  "shared-cpu-4x": { cpu_kind: "shared", cpus: 4, memory_mb: 1024 },
  "shared-cpu-6x": { cpu_kind: "shared", cpus: 6, memory_mb: 1536 },
  "shared-cpu-8x": { cpu_kind: "shared", cpus: 8, memory_mb: 2048 },
  "performance-1x": { cpu_kind: "performance", cpus: 1, memory_mb: 2048 },
  "performance-2x": { cpu_kind: "performance", cpus: 2, memory_mb: 4096 },
  "performance-4x": { cpu_kind: "performance", cpus: 4, memory_mb: 8192 },
  "performance-6x": { cpu_kind: "performance", cpus: 6, memory_mb: 12288 },
  "performance-8x": { cpu_kind: "performance", cpus: 8, memory_mb: 16384 },
  "performance-10x": { cpu_kind: "performance", cpus: 10, memory_mb: 20480 },
  "performance-12x": { cpu_kind: "performance", cpus: 12, memory_mb: 24576 },
  "performance-14x": { cpu_kind: "performance", cpus: 14, memory_mb: 28672 },
  "performance-16x": { cpu_kind: "performance", cpus: 16, memory_mb: 32768 },
} as const satisfies Record<string, Guest>

export type MachineSize = keyof typeof machineGuests

export const MACHINE_SIZES = Object.keys(machineGuests) as ReadonlyArray<MachineSize>

export const DEFAULT_MACHINE_SIZE: MachineSize = "shared-cpu-1x"

export const MachineSize = Schema.Literals(MACHINE_SIZES as [MachineSize, ...Array<MachineSize>]).annotate({
  expected: `one of ${MACHINE_SIZES.join(", ")}`,
})
