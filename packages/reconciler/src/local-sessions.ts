/**
 * The local sessions a run compares with Stripe, read from the store's `verification_sessions`
 * projection a page at a time.
 *
 * @since 0.1.0
 */
import { sql } from "kysely"
import { type RunStateTarget, table } from "./tables.ts"

/**
 * Local sessions an incremental run re-reads: not in a final status, or waiting for a refresh.
 * A page of at most `limit` ids after `afterId`, in id order.
 */
export const openSessionIds = async (
  t: RunStateTarget,
  afterId: string | null,
  limit: number,
): Promise<ReadonlyArray<string>> =>
  (
    await sql<{ session_id: string }>`
      select session_id from ${table(t, "verification_sessions")}
      where (needs_refresh or status is null or status not in ('verified', 'canceled'))
        and (${afterId}::text is null or session_id > ${afterId})
      order by session_id
      limit ${limit}`.execute(t.db)
  ).rows.map((r) => r.session_id)

/** Local sessions created (Stripe's `created`) in `[from, to]` unix seconds; `to` null = no upper end. */
export const localSessionsCreatedBetween = async (
  t: RunStateTarget,
  from: number,
  to: number | null,
): Promise<ReadonlyArray<{ readonly id: string; readonly created: number }>> =>
  (
    await sql<{ session_id: string; created: number }>`
      select session_id, extract(epoch from created)::float8 as created from ${table(t, "verification_sessions")}
      where created >= to_timestamp(${from}) and (${to}::float8 is null or created <= to_timestamp(${to}::float8))
      order by created desc, session_id`.execute(t.db)
  ).rows.map((r) => ({ id: r.session_id, created: Number(r.created) }))
