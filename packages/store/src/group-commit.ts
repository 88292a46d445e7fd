/**
 * Group commit for appends. Appends made in the same turn of the event loop go to the database in
 * one call of the schema's `append_batch`; while `maxInFlight` calls are already there, later
 * appends wait, and when one returns, every append that waited goes in the next call: one round
 * trip, one transaction, one WAL flush for all of them. A lone append goes at once, by itself
 * (`append_one` for one event, `append_to_stream` for more), so a quiet store pays no delay.
 *
 * Each append keeps its own outcome (appended, duplicate, version conflict), exactly as if it had
 * been sent alone. The batch runs them by stream id, in arrival order within each stream, so two
 * appends to one stream keep their order. A batch that fails as a whole (a duplicate Stripe event racing from another process, a
 * deadlock, a value Postgres refuses) is sent again one append at a time, so one append's failure
 * is never its neighbours'. Only a database that cannot be reached fails them all.
 *
 * @since 0.1.0
 */
import type { SessionRow } from "./session-row.ts"
import { isUnavailable, sqlState, toStoreError } from "./sql-errors.ts"

/** An append ready to send: its parameters, already checked and encoded. */
export interface AppendCall {
  readonly streamId: string
  readonly expectedVersion: number
  readonly stripeEventId: string | null
  /** The events, as one JSON array. */
  readonly events: string
  readonly metadata: string
  /** The session's row after the events, for the inline projection. */
  readonly row: SessionRow
  /** For a one-event append: the event's type and JSON, so it can go through `append_one`. */
  readonly single: { readonly type: string; readonly event: string } | null
}

/** What `append_to_stream` answered for one append. */
export interface AppendRow {
  readonly outcome: "appended" | "duplicate" | "conflict"
  readonly version: string | null
  readonly positions: ReadonlyArray<string> | null
}

/** How appends share round trips. */
export interface GroupCommitOptions {
  /** Calls at the database at once before appends start to wait and group (default 2). */
  readonly maxInFlight?: number | undefined
  /** The most appends one call carries (default 64); 1 turns grouping off. */
  readonly maxBatch?: number | undefined
}

/** Where the appends go. */
export interface AppendTarget {
  readonly pool: Queryable
  readonly schema: string
  /**
   * Use named (server-side prepared) statements. Off for PGlite: through pglite-socket, `pg`
   * loses track of a named statement when a call fails, and the next call finds it "already
   * exists"; a one-session embedded database gains little from preparing anyway.
   */
  readonly prepared: boolean
}

interface Waiting {
  readonly call: AppendCall
  readonly resolve: (row: AppendRow) => void
  readonly reject: (error: unknown) => void
}

/** Sends appends, alone or grouped; one per store. */
export interface GroupCommit {
  /** Resolves with the append's own row, or rejects with a typed store error. */
  readonly send: (call: AppendCall) => Promise<AppendRow>
}

/** The minimal `pg` surface the group commit needs. */
export interface Queryable {
  query<R>(config: {
    name?: string | undefined
    text: string
    values: ReadonlyArray<unknown>
  }): Promise<{ rows: Array<R> }>
}

/** Why `options` cannot work, or `undefined` when they can. */
export const checkGroupCommitOptions = (options: GroupCommitOptions): string | undefined => {
  for (const key of ["maxInFlight", "maxBatch"] as const) {
    const value = options[key]
    if (value !== undefined && (!Number.isSafeInteger(value) || value < 1)) {
      return `groupCommit.${key} must be a positive integer, got ${String(value)}`
    }
  }
  return undefined
}

// A Stripe event id stored twice by two racing writers: the unique index decided, not the check.
const isDuplicateRace = (error: unknown): boolean =>
  sqlState(error) === "23505" &&
  String((error as { constraint?: string }).constraint).includes("stripe_event_id")

export const makeGroupCommit = (
  { pool, schema, prepared }: AppendTarget,
  options: GroupCommitOptions = {},
): GroupCommit => {
  const maxInFlight = options.maxInFlight ?? 2
  const maxBatch = options.maxBatch ?? 64
  const named = (name: string) => (prepared ? { name } : {})
  const one = {
    ...named(`idtrail_append_${schema}`),
    text: `select outcome, version, positions from "${schema}".append_to_stream($1, $2, $3, $4::jsonb, $5::jsonb, $6::jsonb)`,
  }
  const lean = {
    ...named(`idtrail_append_one_${schema}`),
    text: `select outcome, version, event_position from "${schema}".append_one($1, $2, $3, $4, $5::jsonb, $6::jsonb, $7::json, $8, $9, $10, $11, $12, $13, $14::jsonb, $15, $16)`,
  }
  const many = {
    ...named(`idtrail_append_batch_${schema}`),
    text: `select ord, outcome, version, positions from "${schema}".append_batch($1::text[], $2::bigint[], $3::text[], $4::jsonb[], $5::jsonb[], $6::jsonb[]) order by ord`,
  }
  const waiting: Array<Waiting> = []
  let inFlight = 0
  let scheduled = false

  /** One append alone. A duplicate lost to the unique index is still a `duplicate`, not an error. */
  const sendOne = async (call: AppendCall): Promise<AppendRow> => {
    try {
      if (call.single !== null) {
        const { row } = call
        const result = await pool.query<{
          outcome: AppendRow["outcome"]
          version: string | null
          event_position: string | null
        }>({
          ...lean,
          values: [
            call.streamId,
            call.expectedVersion,
            call.stripeEventId,
            call.single.type,
            call.single.event,
            call.metadata,
            row.state,
            row.status,
            row.redactionStatus,
            row.lastErrorCode,
            row.type,
            row.livemode,
            row.created,
            row.metadata,
            row.needsRefresh,
            row.lastChangeAt,
          ],
        })
        const answer = result.rows[0]!
        return {
          outcome: answer.outcome,
          version: answer.version,
          positions: answer.event_position === null ? null : [answer.event_position],
        }
      }
      const result = await pool.query<AppendRow>({
        ...one,
        values: [
          call.streamId,
          call.expectedVersion,
          call.stripeEventId,
          call.events,
          call.metadata,
          call.row.state,
        ],
      })
      return result.rows[0]!
    } catch (error) {
      if (isDuplicateRace(error)) return { outcome: "duplicate", version: null, positions: null }
      throw toStoreError("appendToStream", error)
    }
  }

  const sendMany = async (batch: ReadonlyArray<Waiting>): Promise<void> => {
    let rows: Array<AppendRow & { ord: number }>
    try {
      const result = await pool.query<AppendRow & { ord: number }>({
        ...many,
        values: [
          batch.map((w) => w.call.streamId),
          batch.map((w) => w.call.expectedVersion),
          batch.map((w) => w.call.stripeEventId),
          batch.map((w) => w.call.events),
          batch.map((w) => w.call.metadata),
          batch.map((w) => w.call.row.state),
        ],
      })
      rows = result.rows
    } catch (error) {
      if (isUnavailable(error)) {
        const typed = toStoreError("appendToStream", error)
        for (const w of batch) w.reject(typed)
        return
      }
      // The transaction rolled back whole: nothing of the batch was written. One at a time, in
      // order, each append gets its own outcome or its own error.
      for (const w of batch) await sendOne(w.call).then(w.resolve, w.reject)
      return
    }
    for (let i = 0; i < batch.length; i++) batch[i]!.resolve(rows[i]!)
  }

  const flush = (): void => {
    scheduled = false
    while (inFlight < maxInFlight && waiting.length > 0) {
      // A stable sort by stream: two batches lock session rows in the same order (no deadlock),
      // and two appends to one stream keep their order.
      const batch = waiting
        .splice(0, maxBatch)
        .sort((a, b) => (a.call.streamId < b.call.streamId ? -1 : a.call.streamId > b.call.streamId ? 1 : 0))
      inFlight++
      const done =
        batch.length === 1
          ? sendOne(batch[0]!.call).then(batch[0]!.resolve, batch[0]!.reject)
          : sendMany(batch)
      void done.finally(() => {
        inFlight--
        flush()
      })
    }
  }

  return {
    send: (call) =>
      new Promise<AppendRow>((resolve, reject) => {
        waiting.push({ call, resolve, reject })
        // Appends made in the same turn of the event loop go together.
        if (!scheduled && inFlight < maxInFlight) {
          scheduled = true
          queueMicrotask(flush)
        }
      }),
  }
}
