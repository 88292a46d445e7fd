/**
 * One run's context, shared by its modes: where it reads and writes, who it is, what it counted,
 * and how it keeps its lease.
 *
 * @since 0.1.0
 */
import type { PromiseStore } from "@idtrail/store"
import { renewLease } from "./lease.ts"
import type { Progress } from "./report.ts"
import type { StripeApi } from "./stripe-api.ts"
import type { RunStateTarget } from "./tables.ts"
import type { Tally } from "./tally.ts"

export interface Run {
  readonly store: PromiseStore
  readonly stripe: StripeApi
  /** The reconciler's own tables, beside the store's. */
  readonly target: RunStateTarget
  readonly account: string
  readonly runId: string
  readonly dryRun: boolean
  readonly tally: Tally
  /** Reports progress (after every page). */
  readonly progress: (phase: Progress["phase"]) => void
  /** Renews the run's lease (a dry run holds none). */
  readonly keepLease: () => Promise<void>
}

export const makeRun = (
  fields: Omit<Run, "progress" | "keepLease">,
  leaseSeconds: number,
  onProgress: ((progress: Progress) => void) | undefined,
): Run => ({
  ...fields,
  progress: (phase) => onProgress?.(fields.tally.progress(phase)),
  keepLease: () =>
    fields.dryRun ? Promise.resolve() : renewLease(fields.target, fields.account, fields.runId, leaseSeconds),
})
