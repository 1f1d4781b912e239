import { execFile } from "node:child_process"

/** Runs a tool (kubectl, helm) to completion; rejects with its stderr, so a failure names what went wrong. */
export const runCommand = (command: string, args: ReadonlyArray<string>, input?: string): Promise<string> =>
  new Promise((resolve, reject) => {
    const child = execFile(command, [...args], { maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${command} ${args.join(" ")}: ${stderr.trim() || error.message}`))
      else resolve(stdout)
    })
    if (input !== undefined) child.stdin?.end(input)
  })
