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
import type { StoreContext } from "./context.ts"
import {
  type AppendInputError,
  type CorruptEvent,
  type DatabaseError,
  ForbiddenField,
  InvalidArgument,
} from "./errors.ts"
import { withPromiseForm } from "./facade.ts"
import {
  checkStreamId,
  type EncodedEvent,
  encodeForStorage,
  findLoneSurrogate,
  findRefused,
} from "./guards.ts"
import { EventMetadata, isExactMetadata } from "./metadata.ts"
import { readStream } from "./read.ts"
import { runToPromise } from "./run.ts"
import { sessionRowOf } from "./session-row.ts"
import { type EventVersions, isEmpty, stampVersion } from "./upcasting.ts"

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
  /**
   * The session's `confirmedAt` the events were decided on (`null`: never confirmed). When given,
   * a session confirmed since by a newer authoritative read answers `VersionConflict` (nothing
   * written), as a moved version does: the decision saw an older record. `handle` passes it.
   */
  readonly expectedConfirmedAt?: number | null | undefined
}

const decodeMetadata = Schema.decodeUnknownResult(EventMetadata)

/**
 * The state with the row's `confirmed_at`: the column is what counts, since a read that changes
 * nothing moves the column alone, and states stored before it have no `confirmedAt`.
 */
const withConfirmedAt = (state: SessionState, column: string | null): SessionState => {
  const confirmedAt = column === null ? null : Number(column)
  return (state.confirmedAt ?? null) === confirmedAt ? state : { ...state, confirmedAt }
}

/**
 * The session's state at its stream's current version: the projection's row when it is up to
 * date (one query), else the stream folded (a row whose state lags its version, or a stream
 * whose row was deleted: then the log's last version counts).
 */
export const loadState =
  (ctx: StoreContext) =>
  (streamId: string): Effect.Effect<SessionState, CorruptEvent | DatabaseError | AppendInputError> =>
    Effect.gen(function* () {
      // The session's row holds the stream's version; the log is only asked when there is no row.
      // Reads made together share a round trip (state-reads.ts).
      const row = yield* Effect.tryPromise({
        try: () => ctx.stateReads.read(streamId),
        catch: (error) => error as DatabaseError,
      })
      const version = row.stream_version === null ? 0 : Number(row.stream_version)
      if (version === 0) return initialState
      const confirmedAt = row.confirmed_at
      if (row.state !== null && row.state.version === version) return withConfirmedAt(row.state, confirmedAt)
      const events = yield* readStream(ctx)(streamId)
      return withConfirmedAt(fold(events.map((e) => e.event)), confirmedAt)
    })

/** A validated append, ready to send once the state before it is known. */
interface PreparedAppend {
  readonly id: string
  readonly expectedVersion: number
  readonly stripeEventId: string | null
  readonly events: ReadonlyArray<SessionEvent>
  readonly batch: string
  /** The one event of a one-event append, encoded: such appends take the lean path. */
  readonly single: { readonly type: string; readonly event: string } | null
  readonly metadata: string
  /** See `AppendCall.confirmedSeen`. */
  readonly confirmedSeen: number | null
}

/** Every check of an append, synchronously: bad input never reaches the database. */
const prepare = (
  streamId: string,
  events: ReadonlyArray<SessionEvent>,
  options: AppendOptions,
  versions: EventVersions,
): Result.Result<PreparedAppend, AppendInputError> => {
  const id = checkStreamId(streamId)
  if (Result.isFailure(id)) return Result.fail(id.failure)
  const { expectedVersion } = options
  if (!Number.isSafeInteger(expectedVersion) || expectedVersion < 0) {
    return Result.fail(
      new InvalidArgument({
        argument: "expectedVersion",
        message: `expectedVersion must be a non-negative integer, got ${String(expectedVersion)}`,
      }),
    )
  }
  if (!Array.isArray(events) || events.length === 0) {
    return Result.fail(
      new InvalidArgument({ argument: "events", message: "an append needs at least one event" }),
    )
  }
  const { expectedConfirmedAt } = options
  if (
    expectedConfirmedAt !== undefined &&
    expectedConfirmedAt !== null &&
    !(Number.isSafeInteger(expectedConfirmedAt) && expectedConfirmedAt >= 0)
  ) {
    return Result.fail(
      new InvalidArgument({
        argument: "expectedConfirmedAt",
        message: `expectedConfirmedAt must be unix seconds or null when present, got ${String(expectedConfirmedAt)}`,
      }),
    )
  }
  const stripeEventId = options.stripeEventId ?? null
  if (
    stripeEventId !== null &&
    (typeof stripeEventId !== "string" || !/^[\x21-\x7e]{1,255}$/.test(stripeEventId))
  ) {
    return Result.fail(
      new InvalidArgument({
        argument: "stripeEventId",
        message: `stripeEventId must be 1 to 255 printable ASCII characters when present, got ${JSON.stringify(stripeEventId)}`,
      }),
    )
  }
  const metadata: Result.Result<EventMetadata, Schema.SchemaError> = isExactMetadata(options.metadata)
    ? Result.succeed(options.metadata)
    : decodeMetadata(options.metadata)
  if (Result.isFailure(metadata)) {
    return Result.fail(
      new InvalidArgument({
        argument: "metadata",
        message: `metadata is not valid: ${metadata.failure.message}`,
      }),
    )
  }
  const refused = findRefused(metadata.success)
  if (refused.nul !== undefined) {
    return Result.fail(
      new InvalidArgument({
        argument: "metadata",
        message: `metadata holds the NUL character (U+0000) at ${refused.nul}; Postgres jsonb cannot store it`,
      }),
    )
  }
  const metadataJson = JSON.stringify(metadata.success)
  const surrogate = findLoneSurrogate(metadata.success, metadataJson)
  if (surrogate !== undefined) {
    return Result.fail(
      new InvalidArgument({
        argument: "metadata",
        message: `metadata holds a lone UTF-16 surrogate at ${surrogate}; Postgres jsonb cannot store it`,
      }),
    )
  }
  const secretInMetadata = refused.forbidden
  if (secretInMetadata !== undefined) {
    return Result.fail(
      new ForbiddenField({
        path: `metadata${secretInMetadata.slice(1)}`,
        message: `the metadata carries a secret at ${secretInMetadata}; it never enters the event log`,
      }),
    )
  }
  const encoded: Array<EncodedEvent> = new Array(events.length)
  for (let i = 0; i < events.length; i++) {
    const result = encodeForStorage(events[i], i)
    if (Result.isFailure(result)) return Result.fail(result.failure)
    const { type, json } = result.success
    // Types past version 1 carry their version in the stored JSON (see upcasting.ts).
    encoded[i] = isEmpty(versions)
      ? result.success
      : { ...result.success, json: stampVersion(type, json, versions) }
  }
  return Result.succeed({
    id: id.success,
    expectedVersion,
    stripeEventId,
    events,
    batch: `[${encoded.map((e) => e.json).join(",")}]`,
    single: encoded.length === 1 ? { type: encoded[0]!.type, event: encoded[0]!.json } : null,
    metadata: metadataJson,
    confirmedSeen: expectedConfirmedAt === undefined ? null : (expectedConfirmedAt ?? 0),
  })
}

/**
 * Sends a prepared append through the store's group commit; `after` is the session's state after
 * the batch, for the inline projection. A plain Promise, so the hottest path pays nothing for
 * Effect; database errors are already typed.
 */
const send = async (
  ctx: StoreContext,
  append: PreparedAppend,
  after: SessionState,
): Promise<AppendResult> => {
  const row = await ctx.appends.send({
    streamId: append.id,
    expectedVersion: append.expectedVersion,
    stripeEventId: append.stripeEventId,
    events: append.batch,
    metadata: append.metadata,
    row: sessionRowOf(after),
    single: append.single,
    confirmedSeen: append.confirmedSeen,
  })
  switch (row.outcome) {
    case "appended":
      return {
        _tag: "Appended",
        nextVersion: Number(row.version),
        positions: (row.positions ?? []).map(Number),
        state: after,
      }
    case "duplicate":
      return { _tag: "Duplicate", stripeEventId: append.stripeEventId! }
    default:
      return { _tag: "VersionConflict", expected: append.expectedVersion, actual: Number(row.version) }
  }
}

/** Errors of an append. */
type AppendError = AppendInputError | CorruptEvent | DatabaseError

/** The state an append is decided on: the caller's, the initial one, or (one more round trip) the stored one. */
const stateBefore = (
  ctx: StoreContext,
  append: PreparedAppend,
  options: AppendOptions,
): SessionState | Promise<SessionState> => {
  if (options.state !== undefined) {
    if (options.state.version !== append.expectedVersion) {
      throw new InvalidArgument({
        argument: "state",
        message: `state is at version ${options.state.version}, but expectedVersion is ${append.expectedVersion}`,
      })
    }
    return options.state
  }
  return append.expectedVersion === 0 ? initialState : runToPromise(loadState(ctx)(append.id))
}

/**
 * The append, written once as a Promise that rejects with the typed errors: the service's Effect
 * runs it, and the Promise facade calls it directly (its Promise form), so the hottest path costs
 * no fiber.
 */
const appendNow =
  (ctx: StoreContext) =>
  async (
    streamId: string,
    events: ReadonlyArray<SessionEvent>,
    options: AppendOptions,
  ): Promise<AppendResult> => {
    const prepared = prepare(streamId, events, options, ctx.eventVersions)
    if (Result.isFailure(prepared)) throw prepared.failure
    const append = prepared.success
    const known = stateBefore(ctx, append, options)
    // Awaited only when it must be read: the common append takes no extra turn.
    const before = known instanceof Promise ? await known : known
    if (before.version !== append.expectedVersion) {
      return { _tag: "VersionConflict", expected: append.expectedVersion, actual: before.version }
    }
    return send(ctx, append, fold(append.events, before))
  }

/** Appends `events` to `streamId` if the stream is still at `expectedVersion`. */
export const appendToStream = (
  ctx: StoreContext,
): ((
  streamId: string,
  events: ReadonlyArray<SessionEvent>,
  options: AppendOptions,
) => Effect.Effect<AppendResult, AppendError>) => {
  const now = appendNow(ctx)
  return withPromiseForm(
    (streamId, events, options) =>
      Effect.tryPromise({
        try: () => now(streamId, events, options),
        catch: (error) => error as AppendError,
      }),
    now,
  )
}

/**
 * An append whose state after the batch is already known: `handle` passes the state the decider
 * folded, so the same events are not folded again. `state` must be the state at `expectedVersion`.
 */
export const appendFolded =
  (ctx: StoreContext) =>
  (
    streamId: string,
    events: ReadonlyArray<SessionEvent>,
    options: AppendOptions & { readonly after: SessionState },
  ): Effect.Effect<AppendResult, AppendError> => {
    const prepared = prepare(streamId, events, options, ctx.eventVersions)
    if (Result.isFailure(prepared)) return Effect.fail(prepared.failure)
    const append = prepared.success
    return Effect.tryPromise({
      try: () => send(ctx, append, options.after),
      catch: (error) => error as AppendError,
    })
  }
