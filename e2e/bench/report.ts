import { mkdir, writeFile } from "node:fs/promises"
import { fileURLToPath } from "node:url"

const BENCH_DIR = fileURLToPath(new URL("../../.bench/", import.meta.url))

export interface AddressRun {
  readonly applyToExternalIpMs: number
  readonly applyToFirstByteMs: number
}

export interface LoadFigures {
  readonly roundTrip: { readonly rounds: number; readonly p50Ms: number; readonly p99Ms: number }
  readonly throughput: { readonly bytes: number; readonly seconds: number; readonly mbPerSecond: number }
}

export interface BenchReport {
  readonly at: string
  readonly timeToAddress: {
    readonly flyLatencyMs: Record<string, number>
    readonly criticalPathMs: number
    readonly runs: ReadonlyArray<AddressRun>
    readonly medianApplyToExternalIpMs: number
    /** Measured ÷ critical path: 1 would mean the operator adds nothing to Fly's own time. */
    readonly ratio: number
    readonly flyCallsPerTunnel: Record<string, number>
  }
  readonly dataPath: {
    readonly tunnel: LoadFigures
    readonly direct: LoadFigures
    readonly p50Ratio: number
    readonly p99Ratio: number
    readonly throughputRatio: number
  }
  readonly operatorMemory: ReadonlyArray<{ readonly tunnels: number; readonly rssMiB: number }>
}

const fixed = (value: number, digits = 1) => value.toFixed(digits)

const markdown = (report: BenchReport) => {
  const { timeToAddress: address, dataPath, operatorMemory } = report
  const load = (name: string, figures: LoadFigures) =>
    `| ${name} | ${fixed(figures.roundTrip.p50Ms, 3)} | ${fixed(figures.roundTrip.p99Ms, 3)} | ${fixed(figures.throughput.mbPerSecond)} |`
  return `# pnpm bench — ${report.at}

Local stack (real control plane, operator as its own process, Fly emulator with real frps, frpc as processes).

## Time to address, with Fly-like API latency

Critical path of Fly latencies (App, then Machine ∥ IPv4; the address is published once the tunnel is Ready): **${address.criticalPathMs} ms**.

| run | apply → EXTERNAL-IP (ms) | apply → first byte through (ms) |
|---|---|---|
${address.runs.map((run, i) => `| ${i + 1} | ${run.applyToExternalIpMs} | ${run.applyToFirstByteMs} |`).join("\n")}

Median apply → EXTERNAL-IP ${address.medianApplyToExternalIpMs} ms = **${fixed(address.ratio, 2)}×** the critical path
(what the operator, the Kubernetes control plane and frpc add on top of Fly's own time).
The first byte follows the address by the Fly proxy's first passing TCP check on the Machine (grace period 5 s).

Fly API calls for one tunnel: ${Object.entries(address.flyCallsPerTunnel)
    .map(([endpoint, count]) => `${endpoint} ${count}`)
    .join(", ")}.

## Data path: through the tunnel vs direct to the same backend

| path | request/response p50 (ms) | p99 (ms) | echo throughput (MiB/s) |
|---|---|---|---|
${load("tunnel (public IP → Fly proxy → frps → frpc → ClusterIP)", dataPath.tunnel)}
${load("direct (host → ClusterIP)", dataPath.direct)}

Tunnel ÷ direct: p50 ${fixed(dataPath.p50Ratio, 2)}×, p99 ${fixed(dataPath.p99Ratio, 2)}×, throughput ${fixed(dataPath.throughputRatio, 3)}×.

## Operator memory (RSS)

${operatorMemory.map((sample) => `- ${sample.tunnels} tunnel(s): ${fixed(sample.rssMiB)} MiB`).join("\n")}

(The bundled operator, dist/operator.mjs as in the image; FlyTunnels with address targets against an in-memory Fly emulator; the node agent is stopped for this part so no
frpc dials addresses off this host: the frpc Deployments exist, their Pods stay Pending.)
`
}

/** Writes .bench/report.json and the readable .bench/report.md; returns their paths. */
export const writeBenchReport = async (report: BenchReport): Promise<ReadonlyArray<string>> => {
  await mkdir(BENCH_DIR, { recursive: true })
  const json = `${BENCH_DIR}report.json`
  const md = `${BENCH_DIR}report.md`
  await writeFile(json, `${JSON.stringify(report, null, 2)}\n`)
  await writeFile(md, markdown(report))
  return [json, md]
}
