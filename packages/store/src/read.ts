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
import { Effect, Result, Schema, Stream } from "effect"
import type { StoreContext } from "./context.ts"
import { CorruptEvent, type DatabaseError, InvalidArgument, type InvalidStreamId } from "./errors.ts"
import { checkStreamId } from "./guards.ts"
import { type HeldBack, lagAfter } from "./held-back.ts"
import type { EventMetadata } from "./metadata.ts"
import { query } from "./sql-errors.ts"
import { type EventVersions, isEmpty, upcast, versionKey } from "./upcasting.ts"

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
  /**
   * Present when the page is short although committed events follow it: an open transaction
   * (anywhere in the cluster) hides them until it ends. Absent on a full page.
   */
  readonly heldBack?: HeldBack
}

/** A stored event as `pg` returns it in array mode (see {@link selectEvents}). */
export type EventRow = [
  position: string,
  transactionId: string,
  streamId: string,
  streamVersion: string,
  data: unknown,
  metadata: EventMetadata,
  recordedAtMs: number,
]

/** The columns every read selects, in {@link EventRow} order. */
export const selectEvents =
  "select position, transaction_id, stream_id, stream_version, data, metadata, " +
  "(extract(epoch from recorded_at) * 1000)::float8 as recorded_at_ms"

const decodeEvent = Schema.decodeUnknownResult(SessionEventSchema)

/**
 * Turns stored rows into recorded events, each upcast from the shape it was written in to the
 * current one (`versions`); a row that still does not decode is a `CorruptEvent`.
 */
export const toRecorded = (
  rows: ReadonlyArray<EventRow>,
  versions: EventVersions,
): Result.Result<Array<RecordedEvent>, CorruptEvent> => {
  const out: Array<RecordedEvent> = new Array(rows.length)
  // Nothing to upcast (today's registry) and no `_version` on the row: the catch-up path skips the work.
  const plain = isEmpty(versions)
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i]!
    let data = row[4]
    if (!plain || (data as { [versionKey]?: unknown } | null)?.[versionKey] !== undefined) {
      const current = upcast(data, versions)
      if (Result.isFailure(current)) {
        return Result.fail(
          new CorruptEvent({
            position: Number(row[0]),
            message: `the event at position ${row[0]} cannot be read: ${current.failure}`,
          }),
        )
      }
      data = current.success
    }
    const decoded = decodeEvent(data)
    if (Result.isFailure(decoded)) {
      return Result.fail(
        new CorruptEvent({
          position: Number(row[0]),
          message: `the event at position ${row[0]} is not a SessionEvent: ${decoded.failure.message}`,
        }),
      )
    }
    out[i] = {
      position: Number(row[0]),
      transactionId: BigInt(row[1]),
      streamId: row[2],
      streamVersion: Number(row[3]),
      event: decoded.success,
      metadata: row[5],
      recordedAt: new Date(row[6]),
    }
  }
  return Result.succeed(out)
}

/** Runs a query in `pg`'s array row mode (no per-row objects: the catch-up path reads millions of rows). */
export const queryRows = async (
  client: {
    query: (config: {
      text: string
      values: Array<unknown>
      rowMode: "array"
    }) => Promise<{ rows: Array<unknown> }>
  },
  text: string,
  values: Array<unknown>,
): Promise<Array<EventRow>> =>
  (await client.query({ text, values, rowMode: "array" })).rows as Array<EventRow>

/** The events of one stream in version order, from `fromVersion` (exclusive; 0 = from the start). */
export const readStream =
  (ctx: StoreContext) =>
  (
    streamId: string,
    options: { readonly fromVersion?: number } = {},
  ): Effect.Effect<
    ReadonlyArray<RecordedEvent>,
    InvalidStreamId | InvalidArgument | CorruptEvent | DatabaseError
  > =>
    Effect.gen(function* () {
      const id = yield* Effect.fromResult(checkStreamId(streamId))
      const from = options.fromVersion ?? 0
      if (!Number.isSafeInteger(from) || from < 0) {
        return yield* new InvalidArgument({
          argument: "fromVersion",
          message: `fromVersion must be a non-negative integer, got ${from}`,
        })
      }
      const rows = yield* query("readStream", () =>
        queryRows(
          ctx.connection.pool,
          `${selectEvents} from ${ctx.tables.events} where stream_id = $1 and stream_version > $2 order by stream_version`,
          [id, from],
        ),
      )
      return yield* Effect.fromResult(toRecorded(rows, ctx.eventVersions))
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
        return yield* new InvalidArgument({
          argument: "limit",
          message: `limit must be 1 to 10000, got ${limit}`,
        })
      }
      if (
        after !== null &&
        (typeof after.transactionId !== "bigint" || !Number.isSafeInteger(after.position))
      ) {
        return yield* new InvalidArgument({
          argument: "after",
          message: "after must be null or { transactionId: bigint, position: integer }",
        })
      }
      const { rows, heldBack } = yield* query("readAll", () => fetchPage(ctx, after, limit))
      const events = yield* Effect.fromResult(toRecorded(rows, ctx.eventVersions))
      return withHeldBack({ events, checkpoint: checkpointOfRows(rows, after) }, heldBack)
    })

const withHeldBack = (page: ReadAllPage, heldBack: HeldBack | undefined): ReadAllPage =>
  heldBack === undefined ? page : { ...page, heldBack }

/** The checkpoint after the last of `rows`, or `fallback` when there are none. */
const checkpointOfRows = (rows: ReadonlyArray<EventRow>, fallback: Checkpoint | null): Checkpoint | null => {
  const last = rows[rows.length - 1]
  return last === undefined ? fallback : { transactionId: BigInt(last[1]), position: Number(last[0]) }
}

/** Raw rows of the global order after `after`, by the global-order rule. */
const selectAfter = (ctx: StoreContext, after: Checkpoint | null, limit: number): Promise<Array<EventRow>> =>
  after === null
    ? queryRows(
        ctx.connection.pool,
        `${selectEvents} from ${ctx.tables.events}
          where transaction_id < pg_snapshot_xmin(pg_current_snapshot())
          order by transaction_id, position limit $1`,
        [limit],
      )
    : queryRows(
        ctx.connection.pool,
        `${selectEvents} from ${ctx.tables.events}
          where transaction_id < pg_snapshot_xmin(pg_current_snapshot())
            and (transaction_id, position) > ($1::xid8, $2::bigint)
          order by transaction_id, position limit $3`,
        [after.transactionId.toString(), after.position, limit],
      )

/**
 * One page of raw rows after `after`. A short page is checked against the log: while an event
 * past it has become readable (its holder ended, or it committed since), the page reads on; when
 * the events past it are hidden, `heldBack` says by what. So a short page without `heldBack`
 * means nothing committed was left to read.
 */
const fetchPage = async (
  ctx: StoreContext,
  after: Checkpoint | null,
  limit: number,
): Promise<{ readonly rows: Array<EventRow>; readonly heldBack: HeldBack | undefined }> => {
  const rows = await selectAfter(ctx, after, limit)
  while (rows.length < limit) {
    const lag = await lagAfter(ctx.connection.pool, ctx, checkpointOfRows(rows, after))
    if (!lag.readable) return { rows, heldBack: lag.heldBack }
    rows.push(...(await selectAfter(ctx, checkpointOfRows(rows, after), limit - rows.length)))
  }
  return { rows, heldBack: undefined }
}

/**
 * Catch-up reading: every page of the global order after `after`, until the reader has caught
 * up. A page is fetched when the reader asks for it, not before. Fetching the next page while
 * the current one was decoded cost more than it saved (2026-12-07, 200,000 events: 0.59-0.88x a
 * plain `pg` read against 0.82-1.0x without): the rows arriving meanwhile outlived young-generation
 * collections, 530-960 ms of garbage collection a pass against 120. The last page says when it is
 * held back (an empty one, if only hidden events remained).
 */
export const readAllPages =
  (ctx: StoreContext) =>
  (options: {
    readonly after: Checkpoint | null
    readonly pageSize?: number
  }): Stream.Stream<ReadAllPage, CorruptEvent | DatabaseError> => {
    const pageSize = options.pageSize ?? 5000
    // The checkpoint to read after, or `done` once a short page was read.
    type Cursor = { readonly after: Checkpoint | null } | "done"
    return Stream.unfold<Cursor, ReadAllPage, CorruptEvent | DatabaseError, never>(
      { after: options.after },
      (cursor) =>
        cursor === "done"
          ? Effect.succeed(undefined)
          : Effect.gen(function* () {
              const { rows, heldBack } = yield* query("readAll", () => fetchPage(ctx, cursor.after, pageSize))
              const checkpoint = checkpointOfRows(rows, cursor.after)
              if (rows.length === 0)
                return heldBack === undefined
                  ? undefined
                  : ([{ events: [], checkpoint, heldBack }, "done"] as const)
              const events = yield* Effect.fromResult(toRecorded(rows, ctx.eventVersions))
              const next: Cursor = rows.length < pageSize ? "done" : { after: checkpoint }
              return [withHeldBack({ events, checkpoint }, heldBack), next] as const
            }),
    )
  }
