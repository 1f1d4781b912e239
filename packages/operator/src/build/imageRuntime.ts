// How the image runs the bundle. The Dockerfile's ENTRYPOINT and ENV say the same (a test holds them together), and
// `pnpm bench` measures the operator run this way.

/**
 * A young generation of 1 MiB instead of 16 and V8 tuned for size keep the operator's memory low, at a CPU cost a
 * process that mostly waits on I/O does not feel (the bench reports its CPU time); two malloc arenas instead of one
 * per thread. Not --lite-mode (about 5 MiB less): it trades speed for memory throughout V8 (WebAssembly goes too).
 */
export const operatorNodeOptions: ReadonlyArray<string> = ["--max-semi-space-size=1", "--optimize-for-size"]
export const operatorEnvironment: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: "2" }
