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
 * One held session row delays only its own session: appends to a stream with a call at the
 * database wait for it outside the batches; a batch skips a row another transaction holds and
 * sends that append alone; and a call still at the database after `stalledAfterMs` gives back its
 * slot, so a call waiting on a lock never holds up the others.
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
  /**
   * The session's `confirmed_at` the events were decided on (0 for none): a row confirmed since by
   * a newer read answers a conflict. `null`: not checked.
   */
  readonly confirmedSeen: number | null
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
  /**
   * After this many milliseconds at the database a call stops counting against `maxInFlight`
   * (default 100): it is most likely waiting on a lock, and the appends behind it go on. Calls
   * outside the slots stay below the pool's size less `maxInFlight` (one to spare).
   */
  readonly stalledAfterMs?: number | undefined
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
  /**
   * The pool's size (default 10). Calls outside the slots (stalled, or sent alone after a held
   * row) stay below it with one connection to spare, so appends waiting on locks never leave the
   * others waiting for a connection (and timing out).
   */
  readonly poolSize?: number | undefined
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
  for (const key of ["maxInFlight", "maxBatch", "stalledAfterMs"] as const) {
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

/** A row of `append_batch`: `busy` when another transaction holds the stream's row (nothing written). */
type BatchRow = Omit<AppendRow, "outcome"> & {
  readonly ord: number
  readonly outcome: AppendRow["outcome"] | "busy"
}

/**
 * An append's parameters in `append_one`'s order, which `append_batch` takes as one array per
 * column. A one-event append sends its event's type and JSON, a longer one (in a batch) a null
 * type and its JSON array.
 */
const leanValues = (call: AppendCall): Array<unknown> => {
  const { row } = call
  return [
    call.streamId,
    call.expectedVersion,
    call.stripeEventId,
    call.single?.type ?? null,
    call.single?.event ?? call.events,
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
    row.confirmedAt,
    call.confirmedSeen,
  ]
}

/** `append_batch`'s parameters: the appends' {@link leanValues}, column by column. */
const batchValues = (batch: ReadonlyArray<Waiting>): Array<Array<unknown>> => {
  const rows = batch.map((w) => leanValues(w.call))
  return rows[0]!.map((_, c) => rows.map((row) => row[c]))
}

export const makeGroupCommit = (
  { pool, schema, prepared, poolSize }: AppendTarget,
  options: GroupCommitOptions = {},
): GroupCommit => {
  const maxInFlight = options.maxInFlight ?? 2
  const maxBatch = options.maxBatch ?? 64
  const named = (name: string) => (prepared ? { name } : {})
  const one = {
    ...named(`idtrail_append_${schema}`),
    text: `select outcome, version, positions from "${schema}".append_to_stream($1, $2, $3, $4::jsonb, $5::jsonb, $6::jsonb, $7)`,
  }
  const lean = {
    ...named(`idtrail_append_one_${schema}`),
    text: `select outcome, version, event_position from "${schema}".append_one($1, $2, $3, $4, $5::jsonb, $6::jsonb, $7::json, $8, $9, $10, $11, $12, $13, $14::jsonb, $15, $16, $17, $18)`,
  }
  const many = {
    ...named(`idtrail_append_batch_${schema}`),
    text: `select ord, outcome, version, positions from "${schema}".append_batch($1::text[], $2::bigint[], $3::text[], $4::text[], $5::jsonb[], $6::jsonb[], $7::json[], $8::text[], $9::text[], $10::text[], $11::text[], $12::boolean[], $13::bigint[], $14::jsonb[], $15::boolean[], $16::bigint[], $17::bigint[], $18::bigint[]) order by ord`,
  }
  const stalledAfterMs = options.stalledAfterMs ?? 100
  // Calls at the database outside the slots (stalled calls, appends sent alone) stay below the
  // pool's size, with one connection to spare; at least one, so they always make progress.
  const maxOutside = Math.max(1, (poolSize ?? 10) - maxInFlight - 1)
  let outside = 0
  const outsideQueue: Array<() => Promise<void>> = []
  const waiting: Array<Waiting> = []
  // Streams with appends at the database: their later appends wait, so each stream's appends
  // run in the order they were made, and never sit in a batch behind their own stream's lock.
  const streamsAtDatabase = new Set<string>()
  let inFlight = 0
  let scheduled = false

  /** One append alone. A duplicate lost to the unique index is still a `duplicate`, not an error. */
  const sendOne = async (call: AppendCall): Promise<AppendRow> => {
    try {
      if (call.single !== null) {
        const result = await pool.query<{
          outcome: AppendRow["outcome"]
          version: string | null
          event_position: string | null
        }>({ ...lean, values: leanValues(call) })
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
          call.confirmedSeen,
        ],
      })
      return result.rows[0]!
    } catch (error) {
      if (isDuplicateRace(error)) return { outcome: "duplicate", version: null, positions: null }
      throw toStoreError("appendToStream", error)
    }
  }

  /** Each append alone; one stream's in order, different streams side by side. */
  const sendAlone = (appends: ReadonlyArray<Waiting>): Promise<unknown> => {
    const byStream = new Map<string, Array<Waiting>>()
    for (const w of appends) {
      const list = byStream.get(w.call.streamId)
      if (list === undefined) byStream.set(w.call.streamId, [w])
      else list.push(w)
    }
    const sent = [...byStream.values()].map(
      (list) =>
        new Promise<void>((done) => {
          outsideQueue.push(async () => {
            for (const w of list) await sendOne(w.call).then(w.resolve, w.reject)
            done()
          })
        }),
    )
    sendOutside()
    return Promise.all(sent)
  }

  /** Starts the appends waiting to go alone, while calls outside the slots are below `maxOutside`. */
  const sendOutside = (): void => {
    while (outside < maxOutside && outsideQueue.length > 0) {
      const run = outsideQueue.shift()!
      outside++
      void run().finally(() => {
        outside--
        sendOutside()
        flush()
      })
    }
  }

  /** One call of `append_batch`; `freeSlot` as soon as the statement has returned. */
  const sendMany = async (batch: ReadonlyArray<Waiting>, freeSlot: () => void): Promise<void> => {
    let rows: Array<BatchRow>
    try {
      const result = await pool.query<BatchRow>({
        ...many,
        values: batchValues(batch),
      })
      rows = result.rows
    } catch (error) {
      freeSlot()
      if (isUnavailable(error)) {
        const typed = toStoreError("appendToStream", error)
        for (const w of batch) w.reject(typed)
        return
      }
      // The transaction rolled back whole: nothing of the batch was written. Each append alone
      // gets its own outcome or its own error.
      await sendAlone(batch)
      return
    }
    freeSlot()
    const held: Array<Waiting> = []
    for (let i = 0; i < batch.length; i++) {
      const row = rows[i]!
      if (row.outcome === "busy") held.push(batch[i]!)
      else batch[i]!.resolve({ outcome: row.outcome, version: row.version, positions: row.positions })
    }
    // Rows another transaction holds: those appends wait alone, outside the slots.
    if (held.length > 0) await sendAlone(held)
  }

  /** Takes the next batch: up to `maxBatch` appends, in arrival order, of streams not at the database. */
  const take = (): Array<Waiting> => {
    const batch: Array<Waiting> = []
    const rest: Array<Waiting> = []
    const skipped = new Set<string>()
    for (const w of waiting) {
      const stream = w.call.streamId
      if (batch.length < maxBatch && !streamsAtDatabase.has(stream) && !skipped.has(stream)) batch.push(w)
      else {
        rest.push(w)
        skipped.add(stream)
      }
    }
    waiting.splice(0, waiting.length, ...rest)
    return batch
  }

  /**
   * A slot at the database for one call. The returned function says the call is done. A call
   * still there after `stalledAfterMs` gives its slot back and counts as outside the slots, when
   * there is room there; otherwise it keeps its slot and looks again later.
   */
  const takeSlot = (): (() => void) => {
    inFlight++
    let at: "slot" | "stalled" | "done" = "slot"
    let timer: ReturnType<typeof setTimeout>
    const stall = () => {
      if (at !== "slot") return
      if (outside >= maxOutside) {
        timer = setTimeout(stall, stalledAfterMs)
        timer.unref?.()
        return
      }
      at = "stalled"
      outside++
      inFlight--
      flush()
    }
    timer = setTimeout(stall, stalledAfterMs)
    timer.unref?.()
    return () => {
      if (at === "done") return
      clearTimeout(timer)
      if (at === "slot") inFlight--
      else outside--
      at = "done"
      sendOutside()
      flush()
    }
  }

  const flush = (): void => {
    scheduled = false
    while (inFlight < maxInFlight && waiting.length > 0) {
      // A stable sort by stream: two batches lock session rows in the same order (no deadlock),
      // and two appends to one stream keep their order.
      const batch = take().sort((a, b) =>
        a.call.streamId < b.call.streamId ? -1 : a.call.streamId > b.call.streamId ? 1 : 0,
      )
      if (batch.length === 0) return
      for (const w of batch) streamsAtDatabase.add(w.call.streamId)
      const freeSlot = takeSlot()
      const done =
        batch.length === 1
          ? sendOne(batch[0]!.call).then(batch[0]!.resolve, batch[0]!.reject)
          : sendMany(batch, freeSlot)
      void done.finally(() => {
        for (const w of batch) streamsAtDatabase.delete(w.call.streamId)
        freeSlot()
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
