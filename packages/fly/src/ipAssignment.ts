import { Schema } from "effect"

/** `v4` is a dedicated (billed) IPv4; `private_v6` is Flycast, reachable only inside the org's 6PN. */
export const IpAssignmentType = Schema.Literals(["v4", "v6", "shared_v4", "private_v6"])
export type IpAssignmentType = typeof IpAssignmentType.Type

export const CreateIpAssignmentRequest = Schema.Struct({
  type: IpAssignmentType,
  region: Schema.optionalKey(Schema.String),
  network: Schema.optionalKey(Schema.String),
  org_slug: Schema.optionalKey(Schema.String),
  service_name: Schema.optionalKey(Schema.String),
})
export type CreateIpAssignmentRequest = typeof CreateIpAssignmentRequest.Type

/** Also the 200 body of `POST /v1/apps/{app}/ip_assignments`. `network` is set for Flycast only. */
export const IpAssignment = Schema.Struct({
  ip: Schema.String,
  region: Schema.optionalKey(Schema.String),
  shared: Schema.optionalKey(Schema.Boolean),
  service_name: Schema.optionalKey(Schema.String),
  created_at: Schema.optionalKey(Schema.String),
  egress: Schema.optionalKey(Schema.Boolean),
  network: Schema.optionalKey(
    Schema.NullOr(
      Schema.Struct({ name: Schema.optionalKey(Schema.String), org_slug: Schema.optionalKey(Schema.String) }),
    ),
  ),
})
export type IpAssignment = typeof IpAssignment.Type

export const ListIpAssignmentsResponse = Schema.Struct({ ips: Schema.Array(IpAssignment) })
export type ListIpAssignmentsResponse = typeof ListIpAssignmentsResponse.Type
