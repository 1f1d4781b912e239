import * as vega from "vega"
import { compile, type TopLevelSpec } from "vega-lite"

/** A Vega-Lite spec rendered to SVG in Node, without a browser (Vega's headless view). */
const toSvg = async (spec: TopLevelSpec): Promise<string> => {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: "none" })
  const svg = await view.toSVG()
  view.finalize()
  return svg
}

/** Operator RSS against the number of tunnels with an address, with the targets as rules. */
export const rssChart = (
  points: ReadonlyArray<{ readonly tunnels: number; readonly rssMiB: number; readonly phase: string }>,
  targets: ReadonlyArray<{ readonly tunnels: number; readonly mib: number }>,
) =>
  toSvg({
    title: "Operator RSS (bundled, as the image runs it)",
    width: 480,
    height: 260,
    layer: [
      {
        data: { values: [...points] },
        mark: { type: "line", point: true },
        encoding: {
          x: { field: "tunnels", type: "quantitative", title: "tunnels with an address" },
          y: { field: "rssMiB", type: "quantitative", title: "RSS (MiB)", scale: { zero: true } },
          color: { field: "phase", type: "nominal", title: null },
        },
      },
      {
        data: { values: [...targets] },
        mark: { type: "point", shape: "triangle-down", size: 120, color: "#c0392b", filled: true },
        encoding: {
          x: { field: "tunnels", type: "quantitative" },
          y: { field: "mib", type: "quantitative" },
          tooltip: { field: "mib" },
        },
      },
    ],
  })

/** Where the time from apply to the EXTERNAL-IP goes, one stacked bar per run, with the first byte marked. */
export const addressChart = (
  segments: ReadonlyArray<{
    readonly run: string
    readonly segment: string
    readonly order: number
    readonly ms: number
  }>,
  firstBytes: ReadonlyArray<{ readonly run: string; readonly ms: number }>,
  criticalPathMs: number,
) =>
  toSvg({
    title: "Apply → EXTERNAL-IP: where the time goes",
    width: 520,
    height: 40 * new Set(segments.map((entry) => entry.run)).size + 20,
    layer: [
      {
        data: { values: [...segments] },
        mark: "bar",
        encoding: {
          y: { field: "run", type: "nominal", title: null },
          x: { field: "ms", type: "quantitative", stack: "zero", title: "ms after the Service was applied" },
          color: { field: "segment", type: "nominal", title: null, sort: { field: "order" } },
          order: { field: "order", type: "quantitative" },
        },
      },
      {
        data: { values: [...firstBytes] },
        mark: { type: "tick", color: "black", thickness: 2, size: 30 },
        encoding: { y: { field: "run", type: "nominal" }, x: { field: "ms", type: "quantitative" } },
      },
      {
        data: { values: [{ ms: criticalPathMs }] },
        mark: { type: "rule", strokeDash: [4, 4], color: "#555" },
        encoding: { x: { field: "ms", type: "quantitative" } },
      },
    ],
  })
