// Prints vitest's JSON result as one plain closing line: "tests: N passed, N failed, N skipped".
import { readFileSync } from "node:fs"

const path = process.argv[2] ?? ".test-results.json"
let result: { numPassedTests: number; numFailedTests: number; numPendingTests: number; numTodoTests: number }
try {
  result = JSON.parse(readFileSync(path, "utf8"))
} catch {
  console.log("tests: 0 passed, 1 failed")
  console.error(`no test results at ${path}: the test command did not get as far as running the tests`)
  process.exit(1)
}
const skipped = result.numPendingTests + result.numTodoTests
console.log(`tests: ${result.numPassedTests} passed, ${result.numFailedTests} failed, ${skipped} skipped`)
if (result.numFailedTests > 0 || result.numPassedTests === 0) process.exitCode = 1
