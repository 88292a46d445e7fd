/**
 * Group reads of session rows, the read side of group commit: a session's row (its version,
 * folded state and `confirmed_at`) read while `maxInFlight` reads are already at the database
 * waits, and every read that waited goes in the next statement (up to `maxBatch` sessions), one
 * round trip for all of them. A lone read goes at once, by itself.
 *
 * Why: `handle` reads a session's row before it decides, so a sweep that observes 64 sessions at
 * once made 64 round trips for rows before its appends could share one commit; the reads were
 * 87 % of its statements (issue 14). Waiting can only make a read later, never older: a read sent
 * after an append committed sees it, as a read sent alone would.
 *
 * @since 0.1.0
 */
import type { SessionState } from "@idtrail/domain"
import type { Queryable } from "./group-commit.ts"
import { toStoreError } from "./sql-errors.ts"

/** A session's row as a read finds it; a stream with no row has the log's last version (null: none). */
export interface StateRow {
  readonly stream_version: string | null
  readonly state: SessionState | null
  readonly confirmed_at: string | null
}

/** Reads session rows, alone or together; one per store. */
export interface StateReads {
  /** Resolves with the stream's row, or rejects with a typed store error. */
  readonly read: (streamId: string) => Promise<StateRow>
}

interface Waiting {
  readonly streamId: string
  readonly resolve: (row: StateRow) => void
  readonly reject: (error: unknown) => void
}

/** How reads share round trips. */
export interface StateReadsOptions {
  /** Reads at the database at once before later ones wait and group (default 2). */
  readonly maxInFlight?: number | undefined
  /** The most sessions one statement reads (default 100). */
  readonly maxBatch?: number | undefined
}

export const makeStateReads = (
  pool: Queryable,
  schema: string,
  options: StateReadsOptions = {},
): StateReads => {
  const maxInFlight = options.maxInFlight ?? 2
  const maxBatch = options.maxBatch ?? 100
  // Not a named statement: it is planned for each call, so a plan made while the tables were
  // small never outlives them (the cause of migration 0018). A row-less stream's version comes
  // from the log, by its (stream_id, stream_version) index.
  const text = `select s.id as stream_id,
      coalesce(v.version, (select max(e.stream_version) from "${schema}".events e where e.stream_id = s.id)) as stream_version,
      v.state, v.confirmed_at::text as confirmed_at
    from unnest($1::text[]) as s(id)
    left join "${schema}".verification_sessions v on v.session_id = s.id`
  const waiting: Array<Waiting> = []
  let inFlight = 0
  let scheduled = false

  const send = async (batch: ReadonlyArray<Waiting>): Promise<void> => {
    const ids = [...new Set(batch.map((w) => w.streamId))]
    try {
      const { rows } = await pool.query<StateRow & { stream_id: string }>({ text, values: [ids] })
      const byId = new Map(rows.map((row) => [row.stream_id, row] as const))
      for (const w of batch) w.resolve(byId.get(w.streamId)!)
    } catch (error) {
      const failure = toStoreError("loadState", error)
      for (const w of batch) w.reject(failure)
    }
  }

  const flush = (): void => {
    scheduled = false
    while (inFlight < maxInFlight && waiting.length > 0) {
      inFlight++
      void send(waiting.splice(0, maxBatch)).finally(() => {
        inFlight--
        flush()
      })
    }
  }

  return {
    read: (streamId) =>
      new Promise<StateRow>((resolve, reject) => {
        waiting.push({ streamId, resolve, reject })
        // Reads made in the same turn of the event loop go together.
        if (!scheduled && inFlight < maxInFlight) {
          scheduled = true
          queueMicrotask(flush)
        }
      }),
  }
}
