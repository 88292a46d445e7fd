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
import { type Kysely, sql } from "kysely"
import type { StoreContext } from "./context.ts"
import type { CorruptEvent, DatabaseError } from "./errors.ts"
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

/** One batch applied by a projection. */
export interface ProjectionProgress {
  readonly projection: string
  readonly events: number
  readonly checkpoint: Checkpoint
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
 * checkpoint. The checkpoint row is locked, so two workers never apply the same batch.
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
          await sql`insert into ${cp} (name, transaction_id, position) values (${projection.name}, '0', 0)
            on conflict (name) do nothing`.execute(tx)
          const saved = await sql<{
            transaction_id: string
            position: string
          }>`select transaction_id, position
            from ${cp} where name = ${projection.name} for update`.execute(tx)
          const at = saved.rows[0]!
          const rows = await sql<Record<string, unknown>>`${sql.raw(selectEvents)}
            from ${ctx.ref("events")}
            where transaction_id < pg_snapshot_xmin(pg_current_snapshot())
              and (transaction_id, position) > (${at.transaction_id}::xid8, ${at.position}::bigint)
            order by transaction_id, position limit ${batchSize}`.execute(tx)
          const events = toRecorded(rows.rows.map(asRow))
          if (Result.isFailure(events)) throw new Corrupt(events.failure)
          const batch = events.success
          const last = batch[batch.length - 1]
          const checkpoint = {
            transactionId: last?.transactionId ?? BigInt(at.transaction_id),
            position: last?.position ?? Number(at.position),
          }
          if (last !== undefined) {
            await projection.apply(tx, batch)
            await sql`update ${cp} set transaction_id = ${checkpoint.transactionId.toString()}::xid8,
              position = ${checkpoint.position}, updated_at = now() where name = ${projection.name}`.execute(
              tx,
            )
          }
          return { projection: projection.name, events: batch.length, checkpoint }
        }),
      catch: (error) => error,
    }).pipe(
      Effect.catch((error) =>
        Effect.fail(error instanceof Corrupt ? error.error : toStoreError("projection batch", error)),
      ),
    )

/** Applies batches until the projection has caught up with the log; returns how many events it applied. */
export const catchUp =
  (ctx: StoreContext) =>
  (
    projection: Projection,
    options: ProjectionOptions = {},
  ): Effect.Effect<number, CorruptEvent | DatabaseError> =>
    Effect.gen(function* () {
      let total = 0
      for (;;) {
        const progress = yield* applyNextBatch(ctx)(projection, options.batchSize)
        total += progress.events
        if (progress.events === 0) return total
      }
    })

/**
 * A polling subscription: an endless stream of applied batches. When caught up it waits
 * `pollInterval` and looks again. Interrupting the stream stops the projection between batches.
 */
export const subscribe =
  (ctx: StoreContext) =>
  (
    projection: Projection,
    options: ProjectionOptions = {},
  ): Stream.Stream<ProjectionProgress, CorruptEvent | DatabaseError> =>
    Stream.unfold(undefined, () =>
      Effect.gen(function* () {
        for (;;) {
          const progress = yield* applyNextBatch(ctx)(projection, options.batchSize)
          if (progress.events > 0) return [progress, undefined] as const
          yield* Effect.sleep(options.pollInterval ?? "200 millis")
        }
      }),
    )

/** Empties an asynchronous projection and replays the whole log into it. */
export const rebuildProjection =
  (ctx: StoreContext) =>
  (
    projection: Projection,
    options: ProjectionOptions = {},
  ): Effect.Effect<number, CorruptEvent | DatabaseError> =>
    Effect.gen(function* () {
      yield* query("rebuild", () =>
        ctx.db.transaction().execute(async (tx) => {
          await projection.truncate(tx)
          await sql`delete from ${ctx.ref("projection_checkpoints")} where name = ${projection.name}`.execute(
            tx,
          )
        }),
      )
      return yield* catchUp(ctx)(projection, options)
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
        const decoded = toRecorded(page)
        if (Result.isFailure(decoded)) return yield* Effect.fail(decoded.failure)
        const done: Array<{ id: string; version: number; state: SessionState }> = []
        for (const e of decoded.success) {
          if (current !== null && current.id !== e.streamId) {
            done.push({ id: current.id, version: current.state.version, state: current.state })
            current = null
          }
          current ??= { id: e.streamId, state: initialState }
          current.state = evolve(current.state, e.event)
        }
        const last = decoded.success[decoded.success.length - 1]
        if (last === undefined) {
          if (current !== null)
            done.push({ id: current.id, version: current.state.version, state: current.state })
          yield* flush(done)
          sessions += done.length
          return sessions
        }
        yield* flush(done)
        sessions += done.length
        after = { stream: last.streamId, version: last.streamVersion }
      }
    })
