import type { CoreV1Api } from "@kubernetes/client-node"
import { describe, expect, it } from "vitest"
import { resolveContainer } from "../src/nodeAgent/podSpecResolution.ts"

// Nothing here reads the API: plain env values and arguments only.
const core = {} as CoreV1Api

describe("a container's paths on the host (no mount namespace)", () => {
  it("maps a path into a nested mount to that mount's directory, not to the volume around it", async () => {
    const resolved = await resolveContainer(
      core,
      { metadata: { name: "frpc-0", namespace: "fto" } },
      {
        name: "frpc",
        args: ["-c", "/etc/frp/frpc.toml"],
        env: [
          { name: "FRPC_TLS_DIR", value: "/etc/frp/tls" },
          { name: "CA", value: "/etc/frp/tls/ca.crt" },
          { name: "OTHER", value: "/etc/frpx" },
        ],
        volumeMounts: [
          { name: "config", mountPath: "/etc/frp" },
          { name: "tls", mountPath: "/etc/frp/tls/" },
        ],
      },
      {
        entrypoint: ["frpc"],
        volumes: new Map([
          ["config", "/host/volumes/config"],
          ["tls", "/host/volumes/tls"],
        ]),
        nodeName: "node",
        podIp: "10.0.0.2",
      },
    )
    expect(resolved.command).toEqual(["frpc", "-c", "/host/volumes/config/frpc.toml"])
    expect(resolved.env).toMatchObject({
      FRPC_TLS_DIR: "/host/volumes/tls",
      CA: "/host/volumes/tls/ca.crt",
      OTHER: "/etc/frpx",
    })
  })
})
