import { ensureTools } from "./ensureTools.ts"
import { TOOL_NAMES } from "./toolNames.ts"

// `pnpm tools`: progress on stderr, `NAME=ABSOLUTE_PATH` lines on stdout.
try {
  const tools = await ensureTools({ onProgress: (line) => process.stderr.write(`${line}\n`) })
  for (const name of TOOL_NAMES) process.stdout.write(`${name}=${tools[name]}\n`)
} catch (error) {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`)
  process.exitCode = 1
}
