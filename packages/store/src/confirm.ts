/**
 * The confirm-only write: an authoritative read that changes nothing writes no event, yet every
 * older observation must be stale after it. It moves its session's `confirmed_at` alone (forward
 * only; no event, no version bump), and only while the stream is still at the version the read
 * was decided on: a read decided on a record that has moved since must be decided again.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import { sql } from "kysely"
import type { StoreContext } from "./context.ts"
import type { DatabaseError } from "./errors.ts"
import { query } from "./sql-errors.ts"

/**
 * Moves `streamId`'s `confirmed_at` up to `confirmedAt` (unix seconds) if the stream is still at
 * `version`. `false`: the stream moved (or has no row); nothing was written.
 */
export const confirmSession =
  (ctx: StoreContext) =>
  (streamId: string, version: number, confirmedAt: number): Effect.Effect<boolean, DatabaseError> =>
    Effect.map(
      query("confirmSession", () =>
        sql<{ moved: number }>`update ${ctx.ref("verification_sessions")}
            set confirmed_at = greatest(confirmed_at, ${confirmedAt}::bigint)
          where session_id = ${streamId} and version = ${version}
          returning 1 as moved`.execute(ctx.db),
      ),
      (result) => result.rows.length > 0,
    )
