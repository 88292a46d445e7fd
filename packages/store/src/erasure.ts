/**
 * Erasure is destroying the session's data key (crypto-shredding): the log is untouched and
 * stays append-only, its personal values become unreadable, and every reader shows `[erased]`.
 * The projection's row is rewritten as a rebuild would write it (personal values `[erased]`), and
 * the erasure is recorded with who and why (`session_erasures`). Destroying the key also deletes
 * the session's vault rows (`vault.ts`: a row cannot outlive its key). A redaction observed from
 * any source erases automatically (`handle`: the redaction events are its record in the log); an
 * operator erases with `idtrail erase`, recorded in the log too, once, as `SessionErased` with
 * its reason.
 *
 * @since 0.1.0
 */
import { Clock, Effect, Result } from "effect"
import { sql } from "kysely"
import { loadState } from "./append.ts"
import type { StoreContext } from "./context.ts"
import { codecOf } from "./crypto/codec.ts"
import { EncryptionOff } from "./crypto/errors.ts"
import type { ErasedSession } from "./crypto/session-keys.ts"
import type { AppendInputError, ConflictRetriesExhausted, CorruptEvent, DatabaseError } from "./errors.ts"
import { InvalidArgument } from "./errors.ts"
import { checkStreamId, encodeForStorage } from "./guards.ts"
import type { Actor } from "./metadata.ts"
import { query } from "./sql-errors.ts"
import { appendRecord, checkActor, localMetadata } from "./vault.ts"

/** Who erases and why (kept in the erasure record; the reason must not itself be personal). */
export interface ErasureRequest {
  readonly actor: Actor
  readonly reason: string
}

/** What an erasure did. */
export interface Erased {
  readonly sessionId: string
  /** `false` when the session had been erased before (nothing changed). */
  readonly newlyErased: boolean
}

/** The erasure operations of a store (`store.erasure`). */
export interface Erasure {
  /**
   * Destroys the session's key (and its vault rows), records the erasure, and appends
   * `SessionErased` with the reason to its stream (once: a repeat appends nothing); idempotent.
   */
  readonly erase: (
    sessionId: string,
    request: ErasureRequest,
  ) => Effect.Effect<
    Erased,
    EncryptionOff | AppendInputError | CorruptEvent | DatabaseError | ConflictRetriesExhausted
  >
  /** The erased sessions, by id after `after`, each with whether a key remains (never, once erased). */
  readonly erased: (page: {
    readonly after: string | null
    readonly limit: number
  }) => Effect.Effect<ReadonlyArray<ErasedSession>, InvalidArgument | DatabaseError>
}

/** Destroys `sessionId`'s key, records who and why, and rewrites its projection row. */
export const eraseSession =
  (ctx: StoreContext) =>
  (
    sessionId: string,
    request: ErasureRequest,
  ): Effect.Effect<Erased, EncryptionOff | AppendInputError | CorruptEvent | DatabaseError> =>
    Effect.gen(function* () {
      const id = yield* Effect.fromResult(checkStreamId(sessionId))
      if (typeof request.reason !== "string" || request.reason.trim() === "") {
        return yield* new InvalidArgument({ argument: "reason", message: "an erasure needs a reason" })
      }
      const codec = codecOf(ctx)
      if (codec === undefined || codec.mode === "clear") {
        return yield* new EncryptionOff({
          message:
            "this store keeps personal data in clear (no key-encryption key): erasure cannot forget it. " +
            "Set IDTRAIL_KEK (base64 of 32 bytes) or IDTRAIL_KEK_FILE",
        })
      }
      const newlyErased = yield* codec.keys.erase(id, request.actor, request.reason)
      // The row as a rebuild from the log now writes it: every personal value `[erased]`.
      const stored = yield* loadState(ctx)(id)
      if (stored.version > 0) {
        const readers = yield* codec.readers([id])
        const state = readers.writeState(id, readers.state(id, stored))
        yield* query("eraseSession", () =>
          sql`select ${ctx.ref("project_session")}(${id}, ${state.version}, ${JSON.stringify(state)}::jsonb)`.execute(
            ctx.db,
          ),
        )
      }
      return { sessionId: id, newlyErased }
    })

/**
 * An operator's erasure: {@link eraseSession}, then `SessionErased` in the session's stream unless
 * one is there already (so a retry after a crash between the two still records it, and a repeat
 * does not). A session with no events yet has only its `session_erasures` row.
 */
export const eraseRecorded =
  (ctx: StoreContext) =>
  (
    sessionId: string,
    request: ErasureRequest,
  ): Effect.Effect<
    Erased,
    EncryptionOff | AppendInputError | CorruptEvent | DatabaseError | ConflictRetriesExhausted
  > =>
    Effect.gen(function* () {
      const actor = yield* checkActor(request?.actor)
      const at = Math.floor((yield* Clock.currentTimeMillis) / 1000)
      const event = {
        _tag: "SessionErased",
        sessionId,
        at,
        reason: typeof request?.reason === "string" ? request.reason : "",
      } as const
      // The event's checks (a secret-shaped reason, NUL, size) before anything is destroyed.
      const checked = encodeForStorage(event, 0)
      if (Result.isFailure(checked)) return yield* Effect.fail(checked.failure)
      const erased = yield* eraseSession(ctx)(sessionId, { actor, reason: request.reason })
      const id = erased.sessionId
      yield* appendRecord(ctx)(
        id,
        () =>
          Effect.map(
            query("sessionErasedRecorded", () =>
              ctx.connection.pool.query<{ recorded: boolean }>(
                `select exists (select from ${ctx.tables.events} where stream_id = $1 and type = 'SessionErased') as recorded`,
                [id],
              ),
            ),
            (r) => (r.rows[0]?.recorded === true ? undefined : event),
          ),
        localMetadata(actor, at, null),
        { missing: "skip" },
      )
      return erased
    })

export const erasure = (ctx: StoreContext): Erasure => ({
  erase: eraseRecorded(ctx),
  erased: ({ after, limit }) => {
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > 10_000) {
      return Effect.fail(
        new InvalidArgument({
          argument: "limit",
          message: `limit must be an integer from 1 to 10000, got ${limit}`,
        }),
      )
    }
    const codec = codecOf(ctx)
    return codec === undefined ? Effect.succeed([]) : codec.keys.erasedSessions({ after, limit })
  },
})
