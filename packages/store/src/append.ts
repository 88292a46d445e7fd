/**
 * Appending to a session's stream in one round trip: a single call of the schema's
 * `append_to_stream` function drops a duplicate Stripe event, checks the expected version before
 * any sequence value is taken, inserts the batch and updates the inline projection, all in the
 * statement's own transaction. The outcome is a value, never an exception.
 *
 * @since 0.1.0
 */
import { fold, initialState, type SessionEvent, type SessionState } from "@idtrail/domain"
import { Effect, Result, Schema } from "effect"
import { sql } from "kysely"
import type { StoreContext } from "./context.ts"
import { type AppendInputError, type CorruptEvent, type DatabaseError, InvalidArgument } from "./errors.ts"
import { checkStreamId, type EncodedEvent, encodeForStorage } from "./guards.ts"
import { EventMetadata } from "./metadata.ts"
import { readStream } from "./read.ts"
import { query, sqlState, toStoreError } from "./sql-errors.ts"

/** The batch was stored: the stream is now at `nextVersion`; `positions` are the events' global positions. */
export interface Appended {
  readonly _tag: "Appended"
  readonly nextVersion: number
  readonly positions: ReadonlyArray<number>
  /** The session's state after the batch, as the inline projection now holds it. */
  readonly state: SessionState
}

/** The Stripe event was stored before; nothing was written. */
export interface Duplicate {
  readonly _tag: "Duplicate"
  readonly stripeEventId: string
}

/** Another writer got there first: the stream is at `actual`, not `expected`. Nothing was written. */
export interface VersionConflict {
  readonly _tag: "VersionConflict"
  readonly expected: number
  readonly actual: number
}

/** What an append did. */
export type AppendResult = Appended | Duplicate | VersionConflict

/** Options of {@link appendToStream}. */
export interface AppendOptions {
  /** The stream's version the events were decided on; 0 for a new stream. */
  readonly expectedVersion: number
  /** The Stripe event the batch comes from: a second append with the same id is a `Duplicate`. */
  readonly stripeEventId?: string | null | undefined
  /** Stored with every event of the batch. */
  readonly metadata: EventMetadata
  /**
   * The session's state at `expectedVersion`, to fold the batch into for the inline projection.
   * When absent the store reads it (one more round trip), except for a new stream.
   */
  readonly state?: SessionState | undefined
}

const decodeMetadata = Schema.decodeUnknownResult(EventMetadata)

interface AppendRow {
  outcome: "appended" | "duplicate" | "conflict"
  version: string | null
  positions: Array<string> | null
}

interface StateRow {
  stream_version: string | null
  state: SessionState | null
}

/**
 * The session's state at its stream's current version: the projection's row when it is up to
 * date (one query), else the stream folded (during a rebuild).
 */
export const loadState =
  (ctx: StoreContext) =>
  (streamId: string): Effect.Effect<SessionState, CorruptEvent | DatabaseError | AppendInputError> =>
    Effect.gen(function* () {
      const result = yield* query("loadState", () =>
        sql<StateRow>`select
            (select version from ${ctx.ref("streams")} where stream_id = ${streamId}) as stream_version,
            (select state from ${ctx.ref("verification_sessions")} where session_id = ${streamId}) as state`.execute(
          ctx.db,
        ),
      )
      const row = result.rows[0]
      const version = row?.stream_version === null || row === undefined ? 0 : Number(row.stream_version)
      if (version === 0) return initialState
      if (row?.state !== null && row?.state !== undefined && row.state.version === version) return row.state
      const events = yield* readStream(ctx)(streamId)
      return fold(events.map((e) => e.event))
    })

/** Appends `events` to `streamId` if the stream is still at `expectedVersion`. */
export const appendToStream =
  (ctx: StoreContext) =>
  (
    streamId: string,
    events: ReadonlyArray<SessionEvent>,
    options: AppendOptions,
  ): Effect.Effect<AppendResult, AppendInputError | CorruptEvent | DatabaseError> =>
    Effect.gen(function* () {
      const id = yield* Effect.fromResult(checkStreamId(streamId))
      const { expectedVersion } = options
      if (!Number.isSafeInteger(expectedVersion) || expectedVersion < 0) {
        return yield* new InvalidArgument({
          argument: "expectedVersion",
          message: `expectedVersion must be a non-negative integer, got ${String(expectedVersion)}`,
        })
      }
      if (!Array.isArray(events) || events.length === 0) {
        return yield* new InvalidArgument({
          argument: "events",
          message: "an append needs at least one event",
        })
      }
      const stripeEventId = options.stripeEventId ?? null
      if (stripeEventId !== null && (typeof stripeEventId !== "string" || stripeEventId.length === 0)) {
        return yield* new InvalidArgument({
          argument: "stripeEventId",
          message: "stripeEventId must be a non-empty string when present",
        })
      }
      const metadata = decodeMetadata(options.metadata)
      if (Result.isFailure(metadata)) {
        return yield* new InvalidArgument({
          argument: "metadata",
          message: `metadata is not valid: ${metadata.failure.message}`,
        })
      }
      const encoded: Array<EncodedEvent> = []
      for (let i = 0; i < events.length; i++) {
        encoded.push(yield* Effect.fromResult(encodeForStorage(events[i], i)))
      }
      const before = options.state ?? (expectedVersion === 0 ? initialState : yield* loadState(ctx)(id))
      if (before.version !== expectedVersion) {
        // The stream moved on since the caller looked; report it like the database would.
        if (options.state === undefined) {
          return { _tag: "VersionConflict", expected: expectedVersion, actual: before.version } as const
        }
        return yield* new InvalidArgument({
          argument: "state",
          message: `state is at version ${before.version}, but expectedVersion is ${expectedVersion}`,
        })
      }
      const after = fold(events, before)
      const batch = `[${encoded.map((e) => e.json).join(",")}]`
      const rows = yield* Effect.tryPromise({
        try: () =>
          sql<AppendRow>`select * from ${ctx.ref("append_to_stream")}(${id}, ${expectedVersion}, ${stripeEventId},
            ${batch}::jsonb, ${JSON.stringify(metadata.success)}::jsonb, ${JSON.stringify(after)}::jsonb)`.execute(
            ctx.db,
          ),
        catch: (error) => error,
      }).pipe(
        Effect.map((r) => r.rows),
        Effect.catch((error) =>
          // Two writers raced with the same Stripe event on different versions: the unique index decided.
          sqlState(error) === "23505" &&
          String((error as { constraint?: string }).constraint).includes("stripe_event_id")
            ? Effect.succeed<Array<AppendRow>>([{ outcome: "duplicate", version: null, positions: null }])
            : Effect.fail(toStoreError("appendToStream", error)),
        ),
      )
      const row = rows[0]!
      switch (row.outcome) {
        case "appended":
          return {
            _tag: "Appended",
            nextVersion: Number(row.version),
            positions: (row.positions ?? []).map(Number),
            state: after,
          } as const
        case "duplicate":
          return { _tag: "Duplicate", stripeEventId: stripeEventId! } as const
        default:
          return { _tag: "VersionConflict", expected: expectedVersion, actual: Number(row.version) } as const
      }
    })
