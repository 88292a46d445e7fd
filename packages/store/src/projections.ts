/**
 * Read models built from the log. The session projection (`verification_sessions`) is updated
 * inline by every append; other projections run asynchronously, each in its own transaction
 * that also saves its checkpoint, so a crash never applies a batch twice or loses one.
 *
 * A rebuild is truncate + replay (the session projection: overwrite in place); replaying the
 * same events again changes nothing.
 *
 * @since 0.1.0
 */
import { evolve, initialState, type SessionState } from "@idtrail/domain"
import { type Duration, Effect, Result, Stream } from "effect"
import { CompiledQuery, type Kysely, sql } from "kysely"
import type { StoreContext } from "./context.ts"
import { codecOf } from "./crypto/codec.ts"
import type { CorruptEvent, DatabaseError } from "./errors.ts"
import { type HeldBack, lagAfter } from "./held-back.ts"
import {
  type Checkpoint,
  type EventRow,
  queryRows,
  type RecordedEvent,
  selectEvents,
  toRecorded,
} from "./read.ts"
import { query, toStoreError } from "./sql-errors.ts"

/** An asynchronous read model: how to apply a batch of events, and how to empty itself. */
export interface Projection {
  /** Unique name; its checkpoint is saved under it. */
  readonly name: string
  /** Writes the batch's effect inside `tx`, the same transaction that saves the checkpoint. */
  readonly apply: (tx: Kysely<unknown>, events: ReadonlyArray<RecordedEvent>) => Promise<void>
  /** Empties the projection's tables, inside `tx` (for a rebuild). */
  readonly truncate: (tx: Kysely<unknown>) => Promise<void>
}

/** One batch applied by a projection, and how far behind the log it still is. */
export interface ProjectionProgress {
  readonly projection: string
  readonly events: number
  readonly checkpoint: Checkpoint
  /** How long the first event not yet applied has waited, in milliseconds; 0 when caught up. */
  readonly lagMs: number
  /** Present when committed events wait behind an open transaction (see `HeldBack`). */
  readonly heldBack?: HeldBack
}

/** What a catch-up did: the events it applied, where it stopped, and why it stopped there. */
export interface CatchUpResult {
  readonly events: number
  /** The projection's checkpoint afterwards; `null` when it has applied nothing yet. */
  readonly checkpoint: Checkpoint | null
  /** 0 when caught up; otherwise how long the first event not applied has waited, in milliseconds. */
  readonly lagMs: number
  /** Present when it stopped short of committed events hidden behind an open transaction. */
  readonly heldBack?: HeldBack
}

/** Options of the catch-up loop and the subscription. */
export interface ProjectionOptions {
  /** Events per transaction (default 500). */
  readonly batchSize?: number
  /** How long to wait when caught up before polling again (subscription only; default 200 ms). */
  readonly pollInterval?: Duration.Input
}

// Carries a CorruptEvent out of kysely's transaction callback (throwing rolls it back).
class Corrupt extends Error {
  readonly error: CorruptEvent
  constructor(error: CorruptEvent) {
    super(error.message)
    this.error = error
  }
}

// kysely returns objects; the decoder takes pg's array rows.
const asRow = (r: Record<string, unknown>): EventRow => [
  r.position as string,
  r.transaction_id as string,
  r.stream_id as string,
  r.stream_version as string,
  r.data,
  r.metadata as EventRow[5],
  r.recorded_at_ms as number,
]

/** The projection's saved checkpoint, or `null` before its first batch. */
export const checkpointOf =
  (ctx: StoreContext) =>
  (name: string): Effect.Effect<Checkpoint | null, DatabaseError> =>
    query("checkpointOf", () =>
      sql<{ transaction_id: string; position: string }>`select transaction_id, position
        from ${ctx.ref("projection_checkpoints")} where name = ${name}`.execute(ctx.db),
    ).pipe(
      Effect.map((r) => {
        const row = r.rows[0]
        return row === undefined || row.position === "0"
          ? null
          : { transactionId: BigInt(row.transaction_id), position: Number(row.position) }
      }),
    )

/**
 * Applies the next batch after the projection's checkpoint, in one transaction with the new
 * checkpoint. A transaction-scoped advisory lock on the projection's name makes two workers
 * take turns, and takes no transaction id: the snapshot's `xmin` is read first, so the
 * transaction never holds itself back.
 */
export const applyNextBatch =
  (ctx: StoreContext) =>
  (
    projection: Projection,
    batchSize = 500,
  ): Effect.Effect<ProjectionProgress, CorruptEvent | DatabaseError> =>
    Effect.tryPromise({
      try: () =>
        ctx.db.transaction().execute(async (tx) => {
          const cp = ctx.ref("projection_checkpoints")
          await lockProjection(ctx, tx, projection.name)
          const saved = await sql<{
            xmin: string
            transaction_id: string | null
            position: string | null
          }>`select pg_snapshot_xmin(pg_current_snapshot())::text as xmin, c.transaction_id::text, c.position::text
            from (select 1) as one left join ${cp} as c on c.name = ${projection.name}`.execute(tx)
          const at = saved.rows[0]!
          const from = { transactionId: at.transaction_id ?? "0", position: at.position ?? "0" }
          const rows = await sql<Record<string, unknown>>`${sql.raw(selectEvents)}
            from ${ctx.ref("events")}
            where transaction_id < ${at.xmin}::xid8
              and (transaction_id, position) > (${from.transactionId}::xid8, ${from.position}::bigint)
            order by transaction_id, position limit ${batchSize}`.execute(tx)
          const events = toRecorded(rows.rows.map(asRow), ctx.eventVersions)
          if (Result.isFailure(events)) throw new Corrupt(events.failure)
          const batch = events.success
          const last = batch[batch.length - 1]
          const checkpoint = {
            transactionId: last?.transactionId ?? BigInt(from.transactionId),
            position: last?.position ?? Number(from.position),
          }
          if (last !== undefined) {
            await projection.apply(tx, batch)
            await sql`insert into ${cp} (name, transaction_id, position, updated_at)
              values (${projection.name}, ${checkpoint.transactionId.toString()}::xid8, ${checkpoint.position}, now())
              on conflict (name) do update set transaction_id = excluded.transaction_id,
                position = excluded.position, updated_at = excluded.updated_at`.execute(tx)
          }
          const lag = await lagAfter(
            { query: async (text, values) => tx.executeQuery(CompiledQuery.raw(text, [...values])) },
            ctx,
            checkpoint.position === 0 ? null : checkpoint,
            at.xmin,
          )
          return {
            projection: projection.name,
            events: batch.length,
            checkpoint,
            lagMs: lag.lagMs,
            ...(lag.heldBack === undefined ? {} : { heldBack: lag.heldBack }),
          }
        }),
      catch: (error) => error,
    }).pipe(
      Effect.catch((error) =>
        Effect.fail(error instanceof Corrupt ? error.error : toStoreError("projection batch", error)),
      ),
    )

/** Makes the workers of one projection (and its rebuild) take turns, until the transaction ends. */
const lockProjection = (ctx: StoreContext, tx: Kysely<unknown>, name: string) =>
  sql`select pg_advisory_xact_lock(hashtext(${`idtrail.projection.${ctx.schema}`}), hashtext(${name}))`.execute(
    tx,
  )

/**
 * Applies batches until the projection has caught up with the log, or with what it may read: the
 * result says when an open transaction hides committed events (`heldBack`), so a stop there is
 * never mistaken for being caught up.
 */
export const catchUp =
  (ctx: StoreContext) =>
  (
    projection: Projection,
    options: ProjectionOptions = {},
  ): Effect.Effect<CatchUpResult, CorruptEvent | DatabaseError> =>
    Effect.gen(function* () {
      const batchSize = options.batchSize ?? 500
      let total = 0
      for (;;) {
        const progress = yield* applyNextBatch(ctx)(projection, batchSize)
        total += progress.events
        if (progress.events < batchSize) {
          const { checkpoint, lagMs, heldBack } = progress
          return {
            events: total,
            checkpoint: checkpoint.position === 0 ? null : checkpoint,
            lagMs,
            ...(heldBack === undefined ? {} : { heldBack }),
          }
        }
      }
    })

/**
 * A polling subscription: an endless stream of applied batches, each with the projection's lag.
 * When caught up it waits `pollInterval` and looks again. When it is held back it also says so
 * with a progress of 0 events, once per holding transaction. Interrupting the stream stops the
 * projection between batches.
 */
export const subscribe =
  (ctx: StoreContext) =>
  (
    projection: Projection,
    options: ProjectionOptions = {},
  ): Stream.Stream<ProjectionProgress, CorruptEvent | DatabaseError> =>
    Stream.unfold(null as bigint | null, (reportedHolder) =>
      Effect.gen(function* () {
        for (;;) {
          const progress = yield* applyNextBatch(ctx)(projection, options.batchSize)
          const holder = progress.heldBack?.transactionId ?? null
          if (progress.events > 0 || (holder !== null && holder !== reportedHolder))
            return [progress, holder] as const
          yield* Effect.sleep(options.pollInterval ?? "200 millis")
        }
      }),
    )

/**
 * Empties an asynchronous projection and replays the whole log into it; returns how many events
 * it applied. Like `catchUp`, it stops at what it may read: a `catchUp` afterwards says whether
 * an open transaction held it back.
 */
export const rebuildProjection =
  (ctx: StoreContext) =>
  (
    projection: Projection,
    options: ProjectionOptions = {},
  ): Effect.Effect<number, CorruptEvent | DatabaseError> =>
    Effect.gen(function* () {
      yield* query("rebuild", () =>
        ctx.db.transaction().execute(async (tx) => {
          await lockProjection(ctx, tx, projection.name)
          await projection.truncate(tx)
          await sql`delete from ${ctx.ref("projection_checkpoints")} where name = ${projection.name}`.execute(
            tx,
          )
        }),
      )
      return (yield* catchUp(ctx)(projection, options)).events
    })

/**
 * Rebuilds the inline session projection in place: fold every stream with the domain's `evolve`
 * and overwrite its row. Never a truncate: a session's row holds its stream's version, which
 * appends check. Appends may run meanwhile: a row is only ever replaced by a state at the same
 * or a newer version, so the rebuild never moves a stream back.
 */
export const rebuildSessions =
  (ctx: StoreContext) =>
  (options: { readonly batchSize?: number } = {}): Effect.Effect<number, CorruptEvent | DatabaseError> =>
    Effect.gen(function* () {
      const batchSize = options.batchSize ?? 5000
      let after: { stream: string; version: number } | null = null
      let current: { id: string; state: SessionState } | null = null
      let sessions = 0
      const flush = (rows: Array<{ id: string; version: number; state: SessionState }>) =>
        rows.length === 0
          ? Effect.void
          : query("rebuildSessions", () =>
              sql`select ${ctx.ref("project_session")}(x.id, x.version, x.state)
                from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as x(id text, version bigint, state jsonb)`.execute(
                ctx.db,
              ),
            )
      for (;;) {
        const cursor: { stream: string; version: number } | null = after
        const page = yield* query("rebuildSessions", () =>
          queryRows(
            ctx.connection.pool,
            `${selectEvents} from ${ctx.tables.events}
              ${cursor === null ? "" : "where (stream_id, stream_version) > ($2, $3)"}
              order by stream_id, stream_version limit $1`,
            cursor === null ? [batchSize] : [batchSize, cursor.stream, cursor.version],
          ),
        )
        const decoded = toRecorded(page, ctx.eventVersions)
        if (Result.isFailure(decoded)) return yield* Effect.fail(decoded.failure)
        // Folded on plain values, written as appends write them (personal values encrypted, or
        // `[erased]` for an erased session): see `crypto/codec.ts`.
        const codec = codecOf(ctx)
        const ids = new Set(decoded.success.map((e) => e.streamId))
        if (current !== null) ids.add(current.id)
        const personal = codec === undefined ? undefined : yield* codec.readers([...ids])
        const row = (c: { id: string; state: SessionState }) => ({
          id: c.id,
          version: c.state.version,
          state: personal === undefined ? c.state : personal.writeState(c.id, c.state),
        })
        const done: Array<{ id: string; version: number; state: SessionState }> = []
        for (const e of decoded.success) {
          if (current !== null && current.id !== e.streamId) {
            done.push(row(current))
            current = null
          }
          current ??= { id: e.streamId, state: initialState }
          current.state = evolve(
            current.state,
            personal === undefined ? e.event : personal.event(e.streamId, e.event),
          )
        }
        const last = decoded.success[decoded.success.length - 1]
        if (last === undefined) {
          if (current !== null) done.push(row(current))
          yield* flush(done)
          sessions += done.length
          return sessions
        }
        yield* flush(done)
        sessions += done.length
        after = { stream: last.streamId, version: last.streamVersion }
      }
    })
