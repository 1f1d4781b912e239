import { type ChildProcess, spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import { mkdtemp, rm, writeFile } from "node:fs/promises"
import { type AddressInfo, createServer } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { frpcConfig, frpsConfig, renderFrpcToml, renderFrpsToml } from "@fly-tunnel-operator/frp"

export interface FrpSettings {
  readonly tcpMux: boolean
  readonly poolCount: number
}

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo
      server.close(() => resolve(port))
    })
    server.once("error", reject)
  })

/** Resolves once `child` printed `line`, or rejects when it exits first or after `timeoutMs`. */
const printed = (child: ChildProcess, line: string, output: () => string, timeoutMs = 20_000) =>
  new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "${line}" within ${timeoutMs} ms: ${output()}`)), timeoutMs)
    const check = () => {
      if (!output().includes(line)) return
      clearTimeout(timer)
      resolve()
    }
    child.stdout?.on("data", check)
    child.stderr?.on("data", check)
    child.once("exit", (code) => {
      clearTimeout(timer)
      reject(new Error(`exited ${code} before "${line}": ${output()}`))
    })
  })

/**
 * frps and frpc alone on loopback, with the operator's own configs (TLS forced, token auth, the load-balancing
 * group) and the given transport settings, publishing `backend` on a free port: frp's cost with nothing around it.
 */
export const startFrpOnLoopback = async (
  tools: { readonly frps: string; readonly frpc: string },
  backend: { readonly host: string; readonly port: number },
  settings: FrpSettings,
) => {
  const dir = await mkdtemp(join(tmpdir(), "fto-bench-frp-"))
  const [bindPort, publicPort] = [await freePort(), await freePort()]
  const env = { PATH: process.env.PATH ?? "", FRP_TOKEN: randomBytes(24).toString("hex"), POD_NAME: "bench" }
  const frpsPath = join(dir, "frps.toml")
  const frpcPath = join(dir, "frpc.toml")
  await writeFile(
    frpsPath,
    renderFrpsToml(
      frpsConfig({
        bindPort,
        bindAddr: "127.0.0.1",
        proxyBindAddr: "127.0.0.1",
        ports: [{ port: publicPort, protocol: "TCP" }],
        tcpMux: settings.tcpMux,
      }),
    ),
  )
  await writeFile(
    frpcPath,
    renderFrpcToml(
      frpcConfig({
        serverAddr: "127.0.0.1",
        serverPort: bindPort,
        localIP: backend.host,
        ports: [{ name: "echo", protocol: "TCP", port: publicPort, targetPort: backend.port }],
        tcpMux: settings.tcpMux,
        poolCount: settings.poolCount,
      }),
    ),
  )
  const children: Array<ChildProcess> = []
  const run = async (binary: string, config: string, ready: string) => {
    const child = spawn(binary, ["-c", config], { env })
    children.push(child)
    let output = ""
    child.stdout?.on("data", (chunk: Buffer) => (output += chunk))
    child.stderr?.on("data", (chunk: Buffer) => (output += chunk))
    await printed(child, ready, () => output)
    return child.pid ?? -1
  }
  const stop = async () => {
    for (const child of children) child.kill("SIGKILL")
    await rm(dir, { recursive: true, force: true })
  }
  try {
    const frps = await run(tools.frps, frpsPath, "frps started successfully")
    const frpc = await run(tools.frpc, frpcPath, "start proxy success")
    return { host: "127.0.0.1", port: publicPort, pids: { frps, frpc }, stop }
  } catch (error) {
    await stop()
    throw error
  }
}
