import { startEmulator } from "./startEmulator.ts"

/**
 * `pnpm emulator`: serves the Fly API emulator until SIGINT/SIGTERM.
 * Environment: FLY_EMULATOR_PORT (default 4280), FLY_EMULATOR_HOST, FLY_API_TOKEN (random if unset),
 * FRPS_PATH (run frps machines as real processes), FLY_EMULATOR_RATE_LIMITS=false.
 */
const emulator = await startEmulator({
  port: Number(process.env.FLY_EMULATOR_PORT ?? 4280),
  ...(process.env.FLY_EMULATOR_HOST ? { host: process.env.FLY_EMULATOR_HOST } : {}),
  ...(process.env.FLY_API_TOKEN ? { token: process.env.FLY_API_TOKEN } : {}),
  ...(process.env.FRPS_PATH ? { frpsPath: process.env.FRPS_PATH } : {}),
  rateLimits: process.env.FLY_EMULATOR_RATE_LIMITS !== "false",
})

process.stdout.write(`FLY_API_BASE_URL=${emulator.baseUrl}\nFLY_API_TOKEN=${emulator.token}\n`)

const stop = () => {
  emulator.close().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(`fly-emulator: ${String(error)}`)
      process.exit(1)
    },
  )
}
process.once("SIGINT", stop)
process.once("SIGTERM", stop)
