/** Control ports come from here, in order from frp's customary 7000, skipping tunnel ports (documented for users). */
export const CONTROL_PORT_RANGE = { first: 7000, last: 7999 } as const

/**
 * The first `count` control ports (one per frps Machine) that no tunnel port uses, whatever
 * its protocol: a Fly service and frps's listener must never share a number with a tunnel port.
 */
export const chooseControlPorts = (tunnelPorts: ReadonlyArray<number>, count = 1): ReadonlyArray<number> => {
  const taken = new Set(tunnelPorts)
  const chosen: Array<number> = []
  for (let port = CONTROL_PORT_RANGE.first; port <= CONTROL_PORT_RANGE.last && chosen.length < count; port++) {
    if (!taken.has(port)) chosen.push(port)
  }
  if (chosen.length < count)
    throw new Error(`no ${count} free control ports in ${CONTROL_PORT_RANGE.first}-${CONTROL_PORT_RANGE.last}`)
  return chosen
}
