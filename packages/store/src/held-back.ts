/**
 * Why a reader of the global order sees nothing newer: the rule that makes late commits safe
 * (only rows below `pg_snapshot_xmin`) also hides every event committed after the oldest open
 * transaction of the whole cluster began, in any database. Readers say so instead of looking
 * caught up: which transaction holds them, since when, and how long the first hidden event has
 * waited.
 *
 * @since 0.1.0
 */
import type { StoreContext } from "./context.ts"
import type { Checkpoint } from "./read.ts"

/** A reader held back by an open transaction: committed events exist that it may not read yet. */
export interface HeldBack {
  /** The oldest transaction still open in the cluster (`pg_snapshot_xmin`): nothing after it is read. */
  readonly transactionId: bigint
  /** Its backend's process id, when the server shows it (not for a prepared transaction, nor to a role without `pg_read_all_stats`). */
  readonly pid: number | null
  /** The database it runs in, when known: often not the store's. */
  readonly database: string | null
  /** When it began (or was prepared), when known. */
  readonly since: Date | null
  /** How long the first hidden event has waited, in milliseconds, from its `recordedAt`. */
  readonly waitingMs: number
}

/** Where a reader stands against the log's head. */
export interface Lag {
  /** How long the first event after the checkpoint has waited, in milliseconds; 0 when there is none. */
  readonly lagMs: number
  /** Set when that event is committed but hidden behind an open transaction. */
  readonly heldBack: HeldBack | undefined
  /** `true` when that event exists and the global-order rule lets readers take it now. */
  readonly readable: boolean
}

type LagRow = {
  lag_ms: number
  hidden: boolean
  xmin: string
  pid: number | null
  database: string | null
  since_ms: number | null
}

/** The minimal `pg` surface: the pool, or a transaction's client. */
interface Queryable {
  query<R>(text: string, values: ReadonlyArray<unknown>): Promise<{ rows: Array<R> }>
}

/**
 * The lag after `checkpoint`: the first event past it, and whether the global-order rule hides it
 * (its transaction id is at or above `xmin`; when `xmin` is not given, the current one). An event
 * that is visible to this query is committed, so a hidden one waits only for the holder.
 */
export const lagAfter = async (
  client: Queryable,
  ctx: StoreContext,
  checkpoint: Checkpoint | null,
  xmin?: string,
): Promise<Lag> => {
  const values: Array<unknown> = [xmin ?? null]
  const after =
    checkpoint === null
      ? ""
      : `where (e.transaction_id, e.position) > ($${values.push(checkpoint.transactionId.toString())}::xid8, $${values.push(checkpoint.position)}::bigint)`
  const { rows } = await client.query<LagRow>(
    `with next as (
       select e.transaction_id, e.recorded_at from ${ctx.tables.events} e ${after}
        order by e.transaction_id, e.position limit 1
     ), snap as (select coalesce($1::xid8, pg_snapshot_xmin(pg_current_snapshot())) as xmin)
     select (extract(epoch from clock_timestamp() - n.recorded_at) * 1000)::float8 as lag_ms,
            n.transaction_id >= s.xmin as hidden, s.xmin::text as xmin,
            h.pid, h.database, (extract(epoch from h.since) * 1000)::float8 as since_ms
       from next n cross join snap s
       left join lateral (
         select a.pid, a.datname::text as database, a.xact_start as since
           from pg_stat_activity a where a.backend_xid = s.xmin::xid
         union all
         select null, p.database::text, p.prepared from pg_prepared_xacts p where p.transaction = s.xmin::xid
         limit 1
       ) h on n.transaction_id >= s.xmin`,
    values,
  )
  const row = rows[0]
  if (row === undefined) return { lagMs: 0, heldBack: undefined, readable: false }
  const lagMs = Math.max(0, row.lag_ms)
  return {
    lagMs,
    readable: !row.hidden,
    heldBack: row.hidden
      ? {
          transactionId: BigInt(row.xmin),
          pid: row.pid,
          database: row.database,
          since: row.since_ms === null ? null : new Date(row.since_ms),
          waitingMs: lagMs,
        }
      : undefined,
  }
}
