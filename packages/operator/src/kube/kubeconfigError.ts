import { Schema } from "effect"

/**
 * The cluster's address or credentials cannot be loaded: a kubeconfig that is missing, unreadable or asks for what the
 * operator does not do. A setting to fix, not a fault to retry: the process exits with code 2, as for a bad flag.
 */
export class KubeconfigError extends Schema.TaggedError<KubeconfigError>()("KubeconfigError", {
  /** The file (or "in-cluster") the problem is in. */
  source: Schema.String,
  problem: Schema.String,
}) {
  override get message(): string {
    return `invalid kubeconfig (${this.source}): ${this.problem}`
  }
}
