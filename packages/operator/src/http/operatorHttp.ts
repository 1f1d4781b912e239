import { createServer } from "node:http"
import { NodeHttpServer } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import { HttpRouter, HttpServerResponse } from "effect/http"
import { PrometheusMetrics } from "effect/observability"
import { parseListenAddress } from "./listenAddress.ts"

const listen = (address: string) => NodeHttpServer.layer(createServer, parseListenAddress(address))

/** `/metrics` in the Prometheus text format: every Effect metric of the process (reconciles, queue, Fly calls). */
export const metricsServer = (address: string) =>
  HttpRouter.serve(PrometheusMetrics.layerHttp({ path: "/metrics" }), { disableLogger: true }).pipe(
    Layer.provide(listen(address)),
  )

/** `/healthz`: the process answers. `/readyz`: `ready` holds (caches synced, or standing by for leadership). */
export const healthServer = (address: string, ready: Effect.Effect<boolean>) =>
  HttpRouter.serve(
    Layer.mergeAll(
      HttpRouter.add("GET", "/healthz", HttpServerResponse.text("ok")),
      HttpRouter.add(
        "GET",
        "/readyz",
        Effect.map(ready, (ok) =>
          ok ? HttpServerResponse.text("ok") : HttpServerResponse.text("not ready", { status: 503 }),
        ),
      ),
    ),
    { disableLogger: true },
  ).pipe(Layer.provide(listen(address)))
