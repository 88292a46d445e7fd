/**
 * One run's context, shared by its modes: the services it reads and writes through, who it is,
 * what it counted, and how it keeps its lease and its cursors (the store's `runState`).
 *
 * @since 0.1.0
 */
import type { DatabaseError, EventStoreService, RunInProgress } from "@idtrail/store"
import { Effect, Option, Schema } from "effect"
import type { Progress } from "./report.ts"
import type { StripeApiService } from "./stripe-api.ts"
import type { Tally } from "./tally.ts"

export interface Run {
  readonly store: EventStoreService
  readonly stripe: StripeApiService
  readonly account: string
  readonly runId: string
  readonly dryRun: boolean
  readonly tally: Tally
  /** Reports progress (after every page). */
  readonly progress: (phase: Progress["phase"]) => Effect.Effect<void>
  /** Renews the run's lease (a dry run holds none). */
  readonly keepLease: Effect.Effect<void, RunInProgress | DatabaseError>
}

export const makeRun = (
  fields: Omit<Run, "progress" | "keepLease">,
  leaseSeconds: number,
  onProgress: ((progress: Progress) => void) | undefined,
): Run => ({
  ...fields,
  progress: (phase) => Effect.sync(() => onProgress?.(fields.tally.progress(phase))),
  keepLease: fields.dryRun
    ? Effect.void
    : fields.store.runState.renewLease(fields.account, fields.runId, leaseSeconds),
})

/**
 * The run's saved cursor of `kind`, decoded; one that does not decode (written by something
 * else) is set aside with a warning, as if there were none.
 */
export const loadCursor = <A>(
  run: Run,
  kind: "events" | "sweep",
  schema: Schema.Codec<A, unknown>,
): Effect.Effect<A | null, DatabaseError> =>
  Effect.map(run.store.runState.loadCursor(run.account, kind), (saved) => {
    if (saved === null) return null
    const decoded = Schema.decodeUnknownOption(schema)(saved)
    if (Option.isSome(decoded)) return decoded.value
    run.tally.warnings.push(
      `the saved ${kind} cursor ${JSON.stringify(saved)} does not decode: it was set aside`,
    )
    return null
  })
