import { readFile, writeFile } from "node:fs/promises"
import { join } from "node:path"
import { runGo } from "./goCommand.ts"
import type { ToolName } from "./toolNames.ts"
import { ACTIONLINT_VERSION, DISTRIBUTION_VERSION, FRP_VERSION, HELM_VERSION, KUBERNETES_VERSION } from "./versions.ts"

/** How one group of binaries is built from Go modules at a pinned version. */
export interface Recipe {
  /** Cache key: changes whenever the output would. */
  readonly key: string
  readonly tools: ReadonlyArray<ToolName>
  readonly build: (context: BuildContext) => Promise<void>
}

export interface BuildContext {
  /** Empty directory the binaries must be written to. */
  readonly binDir: string
  /** Scratch directory for wrapper modules. */
  readonly workDir: string
  readonly onOutput: (line: string) => void
}

interface ModuleDownload {
  readonly Dir: string
  readonly GoMod: string
}

const downloadModule = async (module: string, context: BuildContext): Promise<ModuleDownload> =>
  JSON.parse(await runGo(["mod", "download", "-json", module], { cwd: context.workDir, onOutput: context.onOutput }))

/**
 * Kubernetes' go.mod resolves its staging modules through local `replace`s, so `go install` cannot build it.
 * A wrapper module requires k8s.io/kubernetes and routes every staging module to its published v0.X.Y tag.
 */
const kubernetes: Recipe = {
  key: `kubernetes-${KUBERNETES_VERSION}`,
  tools: ["kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl", "etcd"],
  build: async (context) => {
    const upstream = await downloadModule(`k8s.io/kubernetes@${KUBERNETES_VERSION}`, context)
    const goMod = await readFile(upstream.GoMod, "utf8")
    const goDirective = /^go (\S+)$/m.exec(goMod)?.[1] ?? "1.26.0"
    const stagingVersion = KUBERNETES_VERSION.replace(/^v1\./, "v0.")
    const staging = [...goMod.matchAll(/^\s*(k8s\.io\/\S+) => \.\/staging\//gm)].map((match) => match[1])
    await writeFile(
      join(context.workDir, "go.mod"),
      [
        "module local.invalid/fto-kubernetes-tools",
        `go ${goDirective}`,
        `require k8s.io/kubernetes ${KUBERNETES_VERSION}`,
        "replace (",
        ...staging.map((module) => `\t${module} => ${module} ${stagingVersion}`),
        ")",
        "",
      ].join("\n"),
    )
    const build = (output: string, packages: ReadonlyArray<string>) =>
      runGo(
        [
          "build",
          "-mod=mod",
          "-trimpath",
          `-ldflags=-s -w -X k8s.io/component-base/version.gitVersion=${KUBERNETES_VERSION}`,
          "-o",
          output,
          ...packages,
        ],
        { cwd: context.workDir, onOutput: context.onOutput },
      )
    await build(`${context.binDir}/`, [
      "k8s.io/kubernetes/cmd/kube-apiserver",
      "k8s.io/kubernetes/cmd/kube-controller-manager",
      "k8s.io/kubernetes/cmd/kube-scheduler",
      "k8s.io/kubernetes/cmd/kubectl",
    ])
    // The etcd that kubernetes itself requires; its module root is etcd's main package.
    await build(join(context.binDir, "etcd"), ["go.etcd.io/etcd/server/v3"])
  },
}

/** frp's go.mod carries a `replace` (yamux fork), so it is built as the main module from the module cache. */
const frp: Recipe = {
  key: `frp-${FRP_VERSION}`,
  tools: ["frps", "frpc"],
  build: async (context) => {
    const source = await downloadModule(`github.com/fatedier/frp@${FRP_VERSION}`, context)
    for (const tool of ["frps", "frpc"]) {
      // `noweb` leaves out the dashboard UI, whose assets are not in the module.
      await runGo(
        ["build", "-trimpath", "-tags", "noweb", "-ldflags=-s -w", "-o", join(context.binDir, tool), `./cmd/${tool}`],
        {
          cwd: source.Dir,
          env: { GOWORK: "off" },
          onOutput: context.onOutput,
        },
      )
    }
  },
}

const helm: Recipe = {
  key: `helm-${HELM_VERSION}-r2`,
  tools: ["helm"],
  build: async (context) => {
    // `go install` leaves helm's version unset; its release builds stamp it like this.
    const ldflags = `-s -w -X helm.sh/helm/v3/internal/version.version=${HELM_VERSION}`
    await runGo(["install", "-trimpath", `-ldflags=${ldflags}`, `helm.sh/helm/v3/cmd/helm@${HELM_VERSION}`], {
      cwd: context.workDir,
      env: { GOBIN: context.binDir },
      onOutput: context.onOutput,
    })
  },
}

/** A small module (seconds to build); `go install` stamps its version from the module. */
const actionlint: Recipe = {
  key: `actionlint-${ACTIONLINT_VERSION}`,
  tools: ["actionlint"],
  build: async (context) => {
    await runGo(
      ["install", "-trimpath", "-ldflags=-s -w", `github.com/rhysd/actionlint/cmd/actionlint@${ACTIONLINT_VERSION}`],
      { cwd: context.workDir, env: { GOBIN: context.binDir }, onOutput: context.onOutput },
    )
  },
}

/** The registry main module builds with `go install`; its release builds stamp the version like this. */
const registry: Recipe = {
  key: `distribution-${DISTRIBUTION_VERSION}`,
  tools: ["registry"],
  build: async (context) => {
    const ldflags = `-s -w -X github.com/distribution/distribution/v3/version.version=${DISTRIBUTION_VERSION}`
    await runGo(
      [
        "install",
        "-trimpath",
        `-ldflags=${ldflags}`,
        `github.com/distribution/distribution/v3/cmd/registry@${DISTRIBUTION_VERSION}`,
      ],
      { cwd: context.workDir, env: { GOBIN: context.binDir }, onOutput: context.onOutput },
    )
  },
}

export const RECIPES: ReadonlyArray<Recipe> = [frp, helm, actionlint, registry, kubernetes]
