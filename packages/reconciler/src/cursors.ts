/**
 * Where runs got to, per account: how far an incremental run read the Events API, and which page
 * an unfinished sweep had finished (so a crashed sweep resumes there).
 *
 * @since 0.1.0
 */
import { sql } from "kysely"
import { type RunStateTarget, table } from "./tables.ts"

/** How far an incremental run has read the Events API. */
export interface EventsCursor {
  /** The newest event's `created` (unix seconds) that was fully handled. */
  readonly created: number
  /** The ids of the handled events created in that very second (a later run skips them). */
  readonly ids: ReadonlyArray<string>
}
/** Where an unfinished sweep stopped: the last session of its last finished page. */
export interface SweepCursor {
  readonly startingAfter: string
  /** The upper end (unix seconds, inclusive) of the window of `created` not compared yet. */
  readonly windowUpper: number | null
  readonly runId: string
}
export const loadCursor = async <C>(
  t: RunStateTarget,
  account: string,
  kind: "events" | "sweep",
): Promise<C | null> => {
  const rows = await sql<{ cursor: C }>`
    select cursor from ${table(t, "reconciler_cursors")} where account = ${account} and kind = ${kind}`.execute(
    t.db,
  )
  return rows.rows[0]?.cursor ?? null
}

export const saveCursor = async (
  t: RunStateTarget,
  account: string,
  kind: "events" | "sweep",
  cursor: EventsCursor | SweepCursor,
): Promise<void> => {
  await sql`
    insert into ${table(t, "reconciler_cursors")} (account, kind, cursor) values (${account}, ${kind}, ${JSON.stringify(cursor)}::jsonb)
    on conflict (account, kind) do update set cursor = excluded.cursor, updated_at = now()`.execute(t.db)
}

export const clearCursor = async (
  t: RunStateTarget,
  account: string,
  kind: "events" | "sweep",
): Promise<void> => {
  await sql`delete from ${table(t, "reconciler_cursors")} where account = ${account} and kind = ${kind}`.execute(
    t.db,
  )
}
