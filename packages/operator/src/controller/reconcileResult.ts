// controller-runtime's reconcile contract: a reconcile ends Done, asks to be run again after a
// delay (RequeueAfter, backoff reset), or asks for a retry with per-key backoff (Retry). A failure
// of the reconcile effect means Retry as well, and is counted as an error.
import { Data, type Duration } from "effect"

export type ReconcileResult = Data.TaggedEnum<{
  Done: Record<never, never>
  RequeueAfter: { readonly delay: Duration.Input }
  Retry: Record<never, never>
}>

export const ReconcileResult = Data.taggedEnum<ReconcileResult>()

export const done: ReconcileResult = ReconcileResult.Done()
export const retry: ReconcileResult = ReconcileResult.Retry()
export const requeueAfter = (delay: Duration.Input): ReconcileResult => ReconcileResult.RequeueAfter({ delay })
