// The bodies of the writes the operator makes: server-side apply (the object with its type meta,
// under one field manager per controller) and the merge patch that changes finalizers only if the
// object is still the version the caller read.
import { apiVersion, type KubeObject, type ResourceType } from "./resourceType.ts"

/** Field managers, one per writer: each owns exactly the fields it applies, and drops what it stops applying. */
export const FieldManagers = {
  tunnel: "fly-tunnel-operator-tunnel",
  service: "fly-tunnel-operator-service",
  events: "fly-tunnel-operator-events",
  leaderElection: "fly-tunnel-operator-leader-election",
} as const
export type FieldManager = (typeof FieldManagers)[keyof typeof FieldManagers]

export const withTypeMeta = <A extends KubeObject>(type: ResourceType<A>, object: A): A => ({
  ...object,
  apiVersion: apiVersion(type),
  kind: type.kind,
})

/** A merge patch that sets `finalizers`, refused (409) if the object changed since `object` was read. */
export const finalizersPatch = (object: KubeObject, finalizers: ReadonlyArray<string>) => ({
  metadata: { finalizers, resourceVersion: object.metadata?.resourceVersion },
})

const canonicalJson = (value: unknown): string =>
  JSON.stringify(value ?? null, (_, v: unknown) =>
    v !== null && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)))
      : v,
  )

/** Deep equality of two JSON values, key order ignored: a converged object is not written again. */
export const sameJson = (a: unknown, b: unknown): boolean => canonicalJson(a) === canonicalJson(b)
