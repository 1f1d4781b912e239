import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"

const repoRoot = fileURLToPath(new URL("../../", import.meta.url))

/**
 * The README's run command, as a newcomer types it in a terminal: `./dev start` with no kubeconfig and no Fly token
 * boots the local stack and says bytes flow; Ctrl-C (sent through a real pseudo-terminal by util-linux `script`, so
 * the terminal turns it into SIGINT for the foreground process group) removes everything and exits 0. `exec`: script
 * runs the command with $SHELL (often dash), which would otherwise wait as the parent and die of the same SIGINT.
 */
describe("./dev start", () => {
  it("boots the local stack, carries bytes, and stops cleanly on Ctrl-C", async () => {
    const { KUBECONFIG: _kubeconfig, FLY_API_TOKEN: _token, FLY_API_TOKEN_FILE: _file, ...env } = process.env
    const child = spawn("script", ["--quiet", "--flush", "--return", "--command", "exec ./dev start", "/dev/null"], {
      cwd: repoRoot,
      env,
      stdio: ["pipe", "pipe", "pipe"],
    })
    let output = ""
    let interrupted = false
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
    const onData = (chunk: Buffer) => {
      output += chunk.toString()
      if (!interrupted && output.includes("Ctrl-C stops everything")) {
        interrupted = true
        child.stdin.write("\x03")
      }
    }
    child.stdout.on("data", onData)
    child.stderr.on("data", onData)
    const code = await exited
    expect(output).toContain("bytes flow through the public address")
    // A datagram came back through the public IPv4 (the sample has a UDP port beside its TCP one)…
    expect(output).toMatch(/EXTERNAL-IP \d+\.\d+\.\d+\.\d+: datagrams come back too/)
    // …and bytes through its IPv6, from the emulator's documentation prefix; its absence would be said, not skipped.
    expect(output).toMatch(/IPv6 2001:db8:[0-9a-f:]+: bytes flow through it too/)
    expect(output).not.toContain("no IPv6 in")
    // An address target under the default policy: the LAN host, a command to run a program there, a sample.
    expect(output).toMatch(/export LAN_EXEC="ip netns exec fto-lan-\d+-[0-9a-f]+"/)
    expect(output).toMatch(/kind: FlyTunnel[\s\S]*host: 172\.31\.0\.\d+/)
    expect(interrupted).toBe(true)
    expect(output).toContain("removed everything")
    expect(output).not.toContain("ELIFECYCLE")
    expect(code, output.slice(-2000)).toBe(0)
  })
})
