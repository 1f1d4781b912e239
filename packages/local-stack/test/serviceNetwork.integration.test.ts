import { execFileSync } from "node:child_process"
import { connect } from "node:net"
import { describe, expect, it } from "vitest"
import { startEchoBackend } from "../src/serviceNetwork/echoBackend.ts"
import { startServiceNetwork } from "../src/serviceNetwork/serviceNetwork.ts"

const ip = (...args: Array<string>) => execFileSync("ip", args, { encoding: "utf8" })

const echo = (host: string, port: number, text: string) =>
  new Promise<string>((resolve, reject) => {
    let reply = ""
    const socket = connect({ host, port }, () => socket.end(text))
    socket.on("data", (chunk) => {
      reply += chunk.toString()
    })
    socket.once("error", reject)
    socket.once("close", () => resolve(reply))
  })

// A range of its own, so this file never competes with a test run routing its control plane's 10.96.0.0/16.
const RANGE = "10.250.0.0/16"

describe("service network", () => {
  it("lets a backend bind any ClusterIP of the range inside it, reachable from the host; stop removes it all", async () => {
    const network = await startServiceNetwork({ serviceCidr: RANGE })
    try {
      expect(network.serviceCidr).toBe(RANGE)
      expect(network.backendExec).toBe(`ip netns exec ${network.namespace}`)
      expect(ip("route", "show", RANGE)).toContain("via 198.51.100.")
      const backends = await Promise.all(
        ["10.250.0.10", "10.250.7.200"].map((host) => startEchoBackend({ host, port: 8080, exec: network.exec })),
      )
      try {
        expect(await echo("10.250.0.10", 8080, "one")).toBe("one")
        expect(await echo("10.250.7.200", 8080, "two")).toBe("two")
      } finally {
        await Promise.all(backends.map((backend) => backend.stop()))
      }
    } finally {
      await network.stop()
    }
    expect(ip("netns", "list")).not.toContain(network.namespace)
    expect(ip("route", "show", RANGE)).toBe("")
  })

  it("refuses a range another network routes already, naming it; claims a free one when none is given", async () => {
    const first = await startServiceNetwork({ serviceCidr: RANGE })
    try {
      await expect(startServiceNetwork({ serviceCidr: RANGE })).rejects.toThrow(
        `the service range ${RANGE} is already routed on this host`,
      )
      const claimed = await startServiceNetwork()
      try {
        expect(claimed.serviceCidr).toMatch(/^10\.(9[7-9]|10\d|11[0-2])\.0\.0\/16$/)
        expect(claimed.namespace).not.toBe(first.namespace)
      } finally {
        await claimed.stop()
      }
    } finally {
      await first.stop()
    }
    // The refused attempt left nothing behind either.
    expect(ip("netns", "list")).not.toContain(`fto-svc-${process.pid}-`)
  })
})
