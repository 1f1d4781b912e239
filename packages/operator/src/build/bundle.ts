import { build } from "esbuild"

/**
 * The operator as one ESM file for the image: Node 24, no node_modules at run time. CommonJS dependencies
 * (client-node) get a `require` through createRequire. Whitespace and comments go (the source V8 keeps in memory is
 * then a third and all ASCII); names stay, for readable stack traces.
 */
export const bundleOperator = async (outfile: string): Promise<void> => {
  await build({
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
  })
}

if (import.meta.main) await bundleOperator(process.argv[2] ?? "dist/operator.mjs")
