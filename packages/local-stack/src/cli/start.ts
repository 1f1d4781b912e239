import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { operatorEntrypoint } from "@fly-tunnel-operator/operator"
import { withParentDeath } from "../controlPlane/childReaper.ts"
import { runMode } from "./runMode.ts"

const LOCAL_DEMO = fileURLToPath(new URL("./demo.ts", import.meta.url))
const argv = process.argv.slice(2)

/** `./dev start`: the operator against your cluster (kubeconfig + Fly token), or the local stack (neither). */
const mode = runMode(process.env, argv)
switch (mode._tag) {
  case "Incomplete":
    process.stderr.write(`./dev start: ${mode.message}\n`)
    process.exit(2)
    break
  case "Cluster": {
    // The operator itself, with this environment and these flags. Ctrl-C reaches it through the terminal's
    // process group; a SIGTERM sent to this process is passed on.
    const operator = spawn(process.execPath, [operatorEntrypoint, ...argv.filter((arg) => arg !== "--local")], {
      stdio: "inherit",
    })
    process.on("SIGINT", () => {})
    process.on("SIGTERM", () => operator.kill("SIGTERM"))
    operator.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)))
    break
  }
  case "Local": {
    // The demo runs in its own process group: Ctrl-C must reach it alone, so that it stops the operator, the
    // node agent, the emulator and the control plane in order, instead of every process dying at once.
    const { command, args } = withParentDeath(process.execPath, [LOCAL_DEMO])
    const demo = spawn(command, args, { stdio: "inherit", detached: true })
    for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => demo.kill("SIGINT"))
    demo.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)))
    break
  }
}
