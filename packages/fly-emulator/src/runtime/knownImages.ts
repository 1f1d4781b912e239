/** What the runtime knows of an image: its entrypoint, and which guest programs it can run. */
export interface KnownImage {
  readonly entrypoint: ReadonlyArray<string>
  readonly cmd: ReadonlyArray<string>
  /** Guest program (absolute path) → host binary. Bare names are looked up in /usr/bin. */
  readonly programs: Readonly<Record<string, string>>
}

export interface RuntimeBinaries {
  readonly frps: string
}

/**
 * Images the runtime can boot. The official frps image has `ENTRYPOINT ["/usr/bin/frps"]` and no
 * CMD (frp's official images); any image whose name contains "frps" is taken to be one of them.
 * Everything else boots without a process.
 */
export const knownImage = (image: string, binaries: RuntimeBinaries): KnownImage | undefined => {
  const name = image.split("@")[0] ?? image
  if (!name.includes("frps")) return undefined
  return {
    entrypoint: ["/usr/bin/frps"],
    cmd: [],
    programs: { "/usr/bin/frps": binaries.frps },
  }
}
