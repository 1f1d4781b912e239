import { Schema } from "effect"

/** A Machine lease; `expires_at` is epoch seconds. The nonce goes in `fly-machine-lease-nonce`. */
export const MachineLeaseData = Schema.Struct({
  nonce: Schema.optionalKey(Schema.String),
  expires_at: Schema.optionalKey(Schema.Int),
  owner: Schema.optionalKey(Schema.String),
  description: Schema.optionalKey(Schema.String),
  version: Schema.optionalKey(Schema.String),
})

/**
 * The wrapped answer of the lease endpoints (`POST/GET/DELETE …/machines/{id}/lease`): `status`
 * "success" with `data`, or "error" with `message` and `code` (409 while another holds it).
 */
export const MachineLease = Schema.Struct({
  status: Schema.String,
  // Release answers `{"ok": true}` as its data; it is tried first since every lease field is optional.
  data: Schema.optionalKey(Schema.Union([Schema.Struct({ ok: Schema.Boolean }), MachineLeaseData])),
  message: Schema.optionalKey(Schema.String),
  code: Schema.optionalKey(Schema.String),
})
export type MachineLease = typeof MachineLease.Type
