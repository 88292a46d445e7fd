/**
 * Reading the log: one stream in version order, or everything in the global order.
 *
 * The global order is `(transaction_id, position)`, and a reader only takes rows whose
 * transaction id is below `pg_snapshot_xmin(pg_current_snapshot())`: every transaction that could
 * still commit an earlier row has finished. A plain `position > last` reader would silently skip
 * an event whose transaction committed after a later position was read.
 *
 * @since 0.1.0
 */
import { type SessionEvent, SessionEvent as SessionEventSchema } from "@idtrail/domain"
import { Effect, Result, Schema } from "effect"
import { sql } from "kysely"
import type { StoreContext } from "./context.ts"
import { CorruptEvent, type DatabaseError, InvalidArgument, type InvalidStreamId } from "./errors.ts"
import { checkStreamId } from "./guards.ts"
import type { EventMetadata } from "./metadata.ts"
import { query } from "./sql-errors.ts"

/** An event as stored: its place in its stream and in the log, and its metadata. */
export interface RecordedEvent {
  readonly position: number
  readonly transactionId: bigint
  readonly streamId: string
  readonly streamVersion: number
  readonly event: SessionEvent
  readonly metadata: EventMetadata
  readonly recordedAt: Date
}

/** Where a reader of the global order stands: the last (transaction id, position) it took. */
export interface Checkpoint {
  readonly transactionId: bigint
  readonly position: number
}

/** One page of the global order, and the checkpoint to continue after it. */
export interface ReadAllPage {
  readonly events: ReadonlyArray<RecordedEvent>
  /** The last event's checkpoint, or the `after` passed in when the page is empty. */
  readonly checkpoint: Checkpoint | null
}

interface EventRow {
  position: string
  transaction_id: string
  stream_id: string
  stream_version: string
  data: unknown
  metadata: EventMetadata
  recorded_at: Date
}

const decodeEvent = Schema.decodeUnknownResult(SessionEventSchema)

/** Turns stored rows into recorded events; a row that no longer decodes is a `CorruptEvent`. */
export const toRecorded = (rows: ReadonlyArray<EventRow>): Result.Result<Array<RecordedEvent>, CorruptEvent> => {
  const out: Array<RecordedEvent> = new Array(rows.length)
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i]!
    const decoded = decodeEvent(row.data)
    if (Result.isFailure(decoded)) {
      return Result.fail(
        new CorruptEvent({
          position: Number(row.position),
          message: `the event at position ${row.position} is not a SessionEvent: ${decoded.failure.message}`,
        }),
      )
    }
    out[i] = {
      position: Number(row.position),
      transactionId: BigInt(row.transaction_id),
      streamId: row.stream_id,
      streamVersion: Number(row.stream_version),
      event: decoded.success,
      metadata: row.metadata,
      recordedAt: row.recorded_at,
    }
  }
  return Result.succeed(out)
}

const columns = sql.raw("position, transaction_id, stream_id, stream_version, data, metadata, recorded_at")

/** The events of one stream in version order, from `fromVersion` (exclusive; 0 = from the start). */
export const readStream =
  (ctx: StoreContext) =>
  (
    streamId: string,
    options: { readonly fromVersion?: number } = {},
  ): Effect.Effect<ReadonlyArray<RecordedEvent>, InvalidStreamId | InvalidArgument | CorruptEvent | DatabaseError> =>
    Effect.gen(function* () {
      const id = yield* Effect.fromResult(checkStreamId(streamId))
      const from = options.fromVersion ?? 0
      if (!Number.isSafeInteger(from) || from < 0) {
        return yield* new InvalidArgument({
          argument: "fromVersion",
          message: `fromVersion must be a non-negative integer, got ${from}`,
        })
      }
      const result = yield* query("readStream", () =>
        sql<EventRow>`select ${columns} from ${ctx.ref("events")}
          where stream_id = ${id} and stream_version > ${from} order by stream_version`.execute(ctx.db),
      )
      return yield* Effect.fromResult(toRecorded(result.rows))
    })

/** Options of {@link readAll}. */
export interface ReadAllOptions {
  /** Continue after this checkpoint; `null` reads from the beginning. */
  readonly after: Checkpoint | null
  /** At most this many events (1 to 10,000). */
  readonly limit: number
}

/** The next page of the global order after `after`, never skipping an event that commits late. */
export const readAll =
  (ctx: StoreContext) =>
  (options: ReadAllOptions): Effect.Effect<ReadAllPage, InvalidArgument | CorruptEvent | DatabaseError> =>
    Effect.gen(function* () {
      const { after, limit } = options
      if (!Number.isSafeInteger(limit) || limit < 1 || limit > 10_000) {
        return yield* new InvalidArgument({ argument: "limit", message: `limit must be 1 to 10000, got ${limit}` })
      }
      if (after !== null && (typeof after.transactionId !== "bigint" || !Number.isSafeInteger(after.position))) {
        return yield* new InvalidArgument({
          argument: "after",
          message: "after must be null or { transactionId: bigint, position: integer }",
        })
      }
      const result = yield* query("readAll", () =>
        sql<EventRow>`select ${columns} from ${ctx.ref("events")}
          where transaction_id < pg_snapshot_xmin(pg_current_snapshot())
          ${after === null ? sql`` : sql`and (transaction_id, position) > (${after.transactionId.toString()}::xid8, ${after.position}::bigint)`}
          order by transaction_id, position
          limit ${limit}`.execute(ctx.db),
      )
      const events = yield* Effect.fromResult(toRecorded(result.rows))
      const last = events[events.length - 1]
      return {
        events,
        checkpoint: last === undefined ? after : { transactionId: last.transactionId, position: last.position },
      }
    })
