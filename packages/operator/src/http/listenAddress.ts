/** `HOST:PORT`, `:PORT` (all interfaces) or `[::1]:PORT`, as the operator's address settings take them. */
export const parseListenAddress = (address: string): { readonly host: string; readonly port: number } => {
  const index = address.lastIndexOf(":")
  const host = address.slice(0, index).replace(/^\[(.*)\]$/, "$1")
  return { host: host === "" ? "0.0.0.0" : host, port: Number(address.slice(index + 1)) }
}
