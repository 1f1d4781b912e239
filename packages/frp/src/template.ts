/**
 * frp renders every config file as a Go template before parsing it, so a `{{` in a value we copy
 * from a Service or FlyTunnel would run as template code (and could read `.Envs`, i.e. the
 * token). Each `{{` becomes a Go raw-string action that renders back to a literal `{{`; a raw
 * string (backquotes) because TOML would escape the double quotes of `{{ "{{" }}`.
 */
export const escapeTemplate = (value: string): string => value.replaceAll("{{", "{{`{{`}}")

/** A reference to an environment variable, resolved by frp at start-up. */
export const envReference = (name: string): string => {
  if (!/^[A-Z_][A-Z0-9_]*$/.test(name)) throw new Error(`not an environment variable name: ${name}`)
  return `{{ .Envs.${name} }}`
}
