import { build, type Metafile, type Plugin } from "esbuild"

/**
 * Effect's Node HTTP client loads undici with a dynamic import, only for its undici-based client, which the operator
 * does not use (it sends through node:http). Left out, that import stays a dynamic `import("undici")` that never runs,
 * and the bundle is 950 KiB of source lighter (V8 keeps a script's source in memory).
 */
const leaveOutUndici: Plugin = {
  name: "leave-out-undici",
  setup(build) {
    build.onResolve({ filter: /^\.\/Undici\.js$/ }, (args) =>
      args.kind === "dynamic-import" && args.importer.includes("@effect/platform-node")
        ? { path: "undici", external: true }
        : undefined,
    )
  },
}

/**
 * The operator as one ESM file for the image: Node 24, no node_modules at run time. CommonJS dependencies get a
 * `require` through createRequire. Whitespace and comments go (the source V8 keeps in memory is
 * then a third and all ASCII); names stay, for readable stack traces.
 */
export const bundleOperator = async (outfile: string): Promise<Metafile> => {
  const result = await build({
    entryPoints: [new URL("../main.ts", import.meta.url).pathname],
    bundle: true,
    platform: "node",
    target: "node24",
    format: "esm",
    outfile,
    banner: {
      js: "import { createRequire as __ftoCreateRequire } from 'node:module'; const require = __ftoCreateRequire(import.meta.url);",
    },
    legalComments: "none",
    minifyWhitespace: true,
    minifySyntax: true,
    logLevel: "warning",
    plugins: [leaveOutUndici],
    metafile: true,
  })
  return result.metafile
}

if (import.meta.main) await bundleOperator(process.argv[2] ?? "dist/operator.mjs")
