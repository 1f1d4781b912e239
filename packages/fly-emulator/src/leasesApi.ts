import { randomBytes } from "node:crypto"
import { Result, Schema } from "effect"
import type { ApiContext, ApiRequest } from "./apiContext.ts"
import { ulid } from "./identifiers.ts"
import { failure, ok, type Reply } from "./reply.ts"
import { decodeBody } from "./requestBody.ts"
import type { LeaseRecord, MachineRecord } from "./store.ts"

/** The header that carries a lease's nonce on writes, refreshes and release (the Machines API's leases). */
export const nonceHeader = "fly-machine-lease-nonce"

/** Who holds the emulator's leases: its one token. Fly names token holders `<id>@tokens.fly.io`. */
export const leaseOwner = "emulator@tokens.fly.io"

/** Fly documents no default TTL; a lease asked for without one lasts this long here. */
export const defaultLeaseTtlSeconds = 30

const LeaseRequest = Schema.Struct({
  ttl: Schema.optionalKey(Schema.Number),
  description: Schema.optionalKey(Schema.String),
})

const epochSeconds = (now: number = Date.now()): number => Math.floor(now / 1000)

/** The Machine's lease while it lasts; an expired lease is forgotten. */
export const currentLease = (machine: MachineRecord, now: number = Date.now()): LeaseRecord | undefined => {
  if (machine.lease !== undefined && machine.lease.expiresAt <= epochSeconds(now)) delete machine.lease
  return machine.lease
}

const nonceOf = (request: ApiRequest): string | undefined => {
  const value = request.headers[nonceHeader]
  return typeof value === "string" && value !== "" ? value : undefined
}

const expiresText = (lease: LeaseRecord): string =>
  new Date(lease.expiresAt * 1000).toISOString().replace(/\.\d+Z$/, "Z")

const leaseJson = (lease: LeaseRecord) => ({
  status: "success",
  data: {
    nonce: lease.nonce,
    expires_at: lease.expiresAt,
    owner: lease.owner,
    description: lease.description,
    version: lease.version,
  },
})

/** A lease endpoint's error: Fly answers these as `{status, message, code}`. */
const leaseFailure = (status: number, message: string, code: string): Reply => ({
  status,
  body: { status: "error", message, code },
})

/**
 * Any write to a leased Machine needs the lease's nonce: without it (or with another) the answer is
 * 409 with the holder and expiry in the text, as Fly words it. Undefined when the write may go on.
 */
export const leaseRefusal = (machine: MachineRecord, request: ApiRequest): Reply | undefined => {
  const lease = currentLease(machine)
  if (lease === undefined || nonceOf(request) === lease.nonce) return undefined
  return failure(
    409,
    `aborted: machine ID ${machine.id} lease currently held by ${lease.owner}, expires at ${expiresText(lease)}`,
  )
}

/** A new lease for `ttl` seconds, e.g. from a create's `lease_ttl`. */
export const grantLease = (machine: MachineRecord, ttl: number, description = ""): LeaseRecord => {
  const lease: LeaseRecord = {
    nonce: randomBytes(6).toString("hex"),
    owner: leaseOwner,
    description,
    version: ulid(),
    expiresAt: epochSeconds() + ttl,
  }
  machine.lease = lease
  return lease
}

const validTtl = (ttl: number): boolean => Number.isInteger(ttl) && ttl > 0

/**
 * `POST …/lease`: `?ttl=N` (what fly-go sends) or a `{"ttl", "description"}` body. Without a nonce it
 * acquires (201), or answers 409 while someone holds the lease; with the holder's nonce it refreshes.
 */
export const acquireLease = (context: ApiContext, request: ApiRequest, machine: MachineRecord): Reply => {
  const decoded = decodeBody(LeaseRequest, request.body)
  if (Result.isFailure(decoded)) return decoded.failure
  const queryTtl = request.query.get("ttl")
  const ttl = queryTtl !== null ? Number(queryTtl) : (decoded.success.ttl ?? defaultLeaseTtlSeconds)
  if (!validTtl(ttl)) return failure(400, "ttl must be a whole number of seconds above 0")
  const lease = currentLease(machine)
  const nonce = nonceOf(request)
  if (lease !== undefined) {
    if (nonce !== lease.nonce)
      return leaseFailure(
        409,
        `machine ID ${machine.id} lease currently held by ${lease.owner}, expires at ${expiresText(lease)}`,
        "invalid",
      )
    lease.expiresAt = epochSeconds() + ttl
    context.store.changed()
    return ok(leaseJson(lease), 201)
  }
  if (nonce !== undefined) return leaseFailure(409, "lease not found", "invalid")
  const granted = grantLease(machine, ttl, decoded.success.description ?? "")
  context.store.changed()
  return ok(leaseJson(granted), 201)
}

/** `GET …/lease`: the lease in force, 404 when there is none. */
export const findLease = (_context: ApiContext, _request: ApiRequest, machine: MachineRecord): Reply => {
  const lease = currentLease(machine)
  return lease === undefined ? leaseFailure(404, "lease not found", "not_found") : ok(leaseJson(lease))
}

/** `DELETE …/lease` with the holder's nonce. */
export const releaseLease = (context: ApiContext, request: ApiRequest, machine: MachineRecord): Reply => {
  const lease = currentLease(machine)
  const nonce = nonceOf(request)
  if (lease === undefined) return leaseFailure(404, "lease not found", "not_found")
  if (nonce === undefined) return leaseFailure(400, `the ${nonceHeader} header is required`, "invalid")
  if (nonce !== lease.nonce)
    return leaseFailure(
      409,
      `machine ID ${machine.id} lease currently held by ${lease.owner}, expires at ${expiresText(lease)}`,
      "invalid",
    )
  delete machine.lease
  context.store.changed()
  return ok({ status: "success", data: { ok: true } })
}

/** The `lease` field of a Machine answered with `include_leases`. */
export const leaseField = (machine: MachineRecord) => {
  const lease = currentLease(machine)
  return lease === undefined
    ? {}
    : { lease: { description: lease.description, expires_at: lease.expiresAt, owner: lease.owner } }
}
