// The layering of the workspace, checked by `pnpm deps` (part of `pnpm test`). CONTRIBUTING.md explains it.
//
//   api, fly, frp          the bottom: the FlyTunnel schema, the Fly client, frp configs; they import no package of ours
//   operator               above them: controllers, kube access, main; never the emulator, the local stack or tests
//   fly-emulator           beside the operator: an independent judge of the Fly API, so it shares no code with the client
//   local-stack            beside: what `./dev start` boots (control plane, emulator, node agent, the operator process)
//   testkit, */test, e2e   on top: may use everything; nothing below may use them
const workspace = "^packages/([^/]+)/"

module.exports = {
  forbidden: [
    {
      name: "no-circular",
      severity: "error",
      comment: "A cycle between files makes the import order decide behaviour; split the shared part out.",
      from: {},
      to: { circular: true },
    },
    {
      name: "bottom-imports-no-package",
      severity: "error",
      comment: "api, fly and frp are the bottom layer: they import no other package of this workspace.",
      from: { path: "^packages/(api|fly|frp)/src/" },
      to: { path: workspace, pathNot: "^packages/$1/" },
    },
    {
      name: "operator-above-bottom-only",
      severity: "error",
      comment: "The operator builds on api, fly and frp only: never on the emulator, the local stack or test code.",
      from: { path: "^packages/operator/src/" },
      to: { path: "^packages/(fly-emulator|local-stack|testkit)/" },
    },
    {
      name: "emulator-independent",
      severity: "error",
      comment: "The emulator judges the Fly client, so it must not share its code (nor the operator's, nor tests').",
      from: { path: "^packages/fly-emulator/src/" },
      to: { path: "^packages/(api|fly|operator|local-stack|testkit)/" },
    },
    {
      name: "local-stack-no-tests",
      severity: "error",
      comment: "The local stack is part of the product (`./dev start`); it must not depend on test code.",
      from: { path: "^packages/local-stack/src/" },
      to: { path: "^packages/testkit/" },
    },
    {
      name: "src-not-to-tests",
      severity: "error",
      comment: "Source never imports a test file or the e2e suites.",
      from: { path: "^packages/[^/]+/src/" },
      to: { path: "^(packages/[^/]+/test/|e2e/)" },
    },
    {
      name: "not-to-unresolvable",
      severity: "error",
      comment: "An import that resolves to nothing.",
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: "(^|/)node_modules/" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: {
      exportsFields: ["exports"],
      conditionNames: ["import", "default", "node"],
      extensions: [".ts", ".js", ".mjs", ".cjs", ".json"],
    },
    combinedDependencies: false,
  },
}
