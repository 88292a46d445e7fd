/**
 * The opt-in vault: a session's verified outputs and provided details, kept outside the log in
 * `vault` (migration 0017), encrypted under the session's data key, until a retention period
 * ends. The log records only *that* values were kept and which fields (`VerifiedOutputsVaulted`),
 * and every read with who and why (`VaultAccessed`). A row cannot outlive its session's key
 * (a foreign key with `on delete cascade`): erasure and redaction, which destroy the key, delete
 * the session's vault rows in the same statement.
 *
 * @since 0.1.0
 */
import {
  accountOf,
  isRedacted,
  ProvidedDetails as ProvidedDetailsSchema,
  type SessionEvent,
  type SessionState,
  type VaultKind,
  VerifiedOutputs,
} from "@idtrail/domain"
import { Clock, Duration, Effect, Result, Schema } from "effect"
import { appendToStream, loadState } from "./append.ts"
import type { StoreContext } from "./context.ts"
import { decryptValue, encryptValue } from "./crypto/cipher.ts"
import { codecOf, type PersonalCodec } from "./crypto/codec.ts"
import { EncryptionOff, type KeyEncryptionKeyInvalid } from "./crypto/errors.ts"
import type { AppendInputError, CorruptEvent, DatabaseError } from "./errors.ts"
import { ConflictRetriesExhausted, InvalidArgument } from "./errors.ts"
import { checkStreamId } from "./guards.ts"
import { type Actor, actorKinds, type EventMetadata, withSessionAccount } from "./metadata.ts"
import { query, sqlState } from "./sql-errors.ts"

/** Stripe's `provided_details` (the domain exports its schema). */
export type ProvidedDetails = typeof ProvidedDetailsSchema.Type

/** What may be kept for a session (each optional; `null` or absent: that kind is not kept). */
export interface VaultValues {
  readonly verifiedOutputs?: VerifiedOutputs | null | undefined
  readonly providedDetails?: ProvidedDetails | null | undefined
}

export interface KeepOptions {
  /** Who keeps the values (the event's actor). */
  readonly actor: Actor
  /** How long they are kept: a duration (`"30 days"`, milliseconds as a number), at most ten years. */
  readonly retention: Duration.Input
  /** The time of keeping (default: the clock). */
  readonly now?: Date | undefined
  readonly correlationId?: string | null | undefined
}

/** What `keep` did. */
export type Kept =
  | { readonly _tag: "Kept"; readonly fields: ReadonlyArray<string>; readonly expiresAt: Date }
  /** Nothing was given to keep: nothing written. */
  | { readonly _tag: "NothingToKeep" }
  /** The session was erased or redacted: its personal data is gone for good, nothing kept. */
  | { readonly _tag: "Erased" }

export interface ReadOptions {
  /** Who reads (recorded in the access event). */
  readonly actor: Actor
  /** Why (recorded in the clear: it must not itself be personal). */
  readonly reason: string
  /**
   * Only these fields (`verified_outputs.dob`, `provided_details.email`): the others are neither
   * returned nor recorded as read. Default: every field kept.
   */
  readonly fields?: ReadonlyArray<string> | undefined
  /** The time of reading, for expiry (default: the clock). */
  readonly now?: Date | undefined
  readonly correlationId?: string | null | undefined
}

/** What a vault read returned. */
export interface VaultContents {
  readonly sessionId: string
  /**
   * `kept`: values are returned; `empty`: nothing is kept (never, or past its retention);
   * `erased`: the session was erased, nothing can ever be read.
   */
  readonly status: "kept" | "empty" | "erased"
  /** The values kept (only the fields asked for, when `fields` was given). */
  readonly verifiedOutputs: Partial<VerifiedOutputs> | null
  readonly providedDetails: ProvidedDetails | null
  /** The fields returned (`verified_outputs.first_name`, …): what the access event recorded. */
  readonly fields: ReadonlyArray<string>
  /** The earliest expiry of the values returned. */
  readonly expiresAt: Date | null
}

type VaultError = EncryptionOff | AppendInputError | CorruptEvent | DatabaseError | ConflictRetriesExhausted

/** The vault of a store (`store.vault`). Every operation needs encryption on (a KEK). */
export interface Vault {
  /** Keeps `values` encrypted until the retention ends, and records which fields until when. */
  readonly keep: (
    sessionId: string,
    values: VaultValues,
    options: KeepOptions,
  ) => Effect.Effect<Kept, VaultError | KeyEncryptionKeyInvalid>
  /** Records the access (who, why, which fields), then returns the values. */
  readonly read: (sessionId: string, options: ReadOptions) => Effect.Effect<VaultContents, VaultError>
  /** Deletes every value past its retention at `now`; returns how many rows went. */
  readonly expire: (now?: Date) => Effect.Effect<number, EncryptionOff | DatabaseError>
}

const maxRetention = Duration.days(3653)
/** A vault value's JSON, at most: a VerificationSession's outputs are a few hundred bytes. */
const maxValueBytes = 64 * 1024
const appendAttempts = 20

const decodeOutputs = Schema.decodeUnknownResult(VerifiedOutputs)

/** Every field a vault value can hold, by name. */
export const vaultFieldNames: ReadonlySet<string> = new Set([
  ...Object.keys(VerifiedOutputs.fields).map((k) => `verified_outputs.${k}`),
  ...Object.keys(ProvidedDetailsSchema.fields).map((k) => `provided_details.${k}`),
])

const checkFields = (
  fields: ReadonlyArray<string> | undefined,
): Effect.Effect<ReadonlySet<string> | undefined, InvalidArgument> => {
  if (fields === undefined) return Effect.succeed(undefined)
  const unknown = Array.isArray(fields)
    ? fields.filter((f) => typeof f !== "string" || !vaultFieldNames.has(f))
    : [fields]
  return Array.isArray(fields) && fields.length > 0 && unknown.length === 0
    ? Effect.succeed(new Set(fields))
    : Effect.fail(
        new InvalidArgument({
          argument: "fields",
          message:
            `fields are a non-empty list of ${[...vaultFieldNames].join(", ")}` +
            (unknown.length > 0 ? `; unknown: ${unknown.map(String).join(", ")}` : ""),
        }),
      )
}
const decodeDetails = Schema.decodeUnknownResult(ProvidedDetailsSchema)

/** The additional data of a vault value: its session and kind (a value moved elsewhere does not decrypt). */
const boundTo = (sessionId: string, kind: VaultKind) => `${sessionId}\u0000vault:${kind}`

/** The names of the fields holding a value. */
const fieldsOf = (kind: VaultKind, value: object): ReadonlyArray<string> =>
  Object.entries(value)
    .filter(([, v]) => v !== null && v !== undefined)
    .map(([k]) => `${kind}.${k}`)
    .sort()

const encryptionOff = () =>
  new EncryptionOff({
    message:
      "the vault keeps personal data encrypted, and this store has no key-encryption key: " +
      "set IDTRAIL_KEK (base64 of 32 bytes) or IDTRAIL_KEK_FILE",
  })

const codecFor = (ctx: StoreContext): Effect.Effect<PersonalCodec, EncryptionOff> => {
  const codec = codecOf(ctx)
  return codec === undefined || codec.mode === "clear" ? Effect.fail(encryptionOff()) : Effect.succeed(codec)
}

const nowOf = (given: Date | undefined): Effect.Effect<Date, InvalidArgument> =>
  given === undefined
    ? Effect.map(Clock.currentTimeMillis, (ms) => new Date(ms))
    : given instanceof Date && Number.isFinite(given.getTime())
      ? Effect.succeed(given)
      : Effect.fail(new InvalidArgument({ argument: "now", message: "now must be a valid Date" }))

export const checkActor = (actor: Actor): Effect.Effect<Actor, InvalidArgument> =>
  typeof actor === "object" &&
  actor !== null &&
  actorKinds.has(actor.kind) &&
  typeof actor.id === "string" &&
  actor.id.length > 0
    ? Effect.succeed({ kind: actor.kind, id: actor.id })
    : Effect.fail(
        new InvalidArgument({
          argument: "actor",
          message: "an actor is { kind: service|user|reconciler, id }",
        }),
      )

const checkReason = (reason: unknown): Effect.Effect<string, InvalidArgument> =>
  typeof reason === "string" && reason.trim() !== ""
    ? Effect.succeed(reason)
    : Effect.fail(new InvalidArgument({ argument: "reason", message: "a vault read needs a reason" }))

/** The metadata of an event recorded by a local operation (an erasure, a vault keep or read). */
export const localMetadata = (
  actor: Actor,
  at: number,
  correlationId: string | null | undefined,
): EventMetadata => ({
  source: "local",
  stripeEventId: null,
  stripeEventType: null,
  observedAt: at,
  causationId: null,
  correlationId: correlationId ?? null,
  actor,
})

/**
 * Appends one event that changes no personal value to an existing session's stream, on whatever
 * version it is at (a lost race is tried again on the new one). `make` sees the stored state and
 * returns `undefined` to append nothing. The metadata gets the session's account and `livemode`.
 * The stored state is folded as stored (its personal values stay encrypted), as every append's is.
 */
export const appendRecord =
  (ctx: StoreContext) =>
  (
    sessionId: string,
    make: (state: SessionState) => Effect.Effect<SessionEvent | undefined, DatabaseError>,
    metadata: EventMetadata,
    options: {
      readonly missing: "fail" | "skip"
      /** The state just read by the caller: the first attempt starts from it (one read fewer). */
      readonly state?: SessionState
    } = { missing: "fail" },
  ): Effect.Effect<
    "appended" | "nothing",
    AppendInputError | CorruptEvent | DatabaseError | ConflictRetriesExhausted
  > =>
    Effect.gen(function* () {
      const append = appendToStream(ctx)
      for (let attempt = 0; attempt < appendAttempts; attempt++) {
        const state =
          attempt === 0 && options.state !== undefined ? options.state : yield* loadState(ctx)(sessionId)
        if (state.version === 0) {
          if (options.missing === "skip") return "nothing"
          return yield* new InvalidArgument({
            argument: "sessionId",
            message: `no session ${sessionId} in the log`,
          })
        }
        const event = yield* make(state)
        if (event === undefined) return "nothing"
        const result = yield* append(sessionId, [event], {
          expectedVersion: state.version,
          metadata: withSessionAccount(metadata, accountOf(state), state.facts?.livemode),
          state,
        })
        if (result._tag === "Appended") return "appended"
      }
      return yield* new ConflictRetriesExhausted({
        streamId: sessionId,
        attempts: appendAttempts,
        message: `${sessionId}: lost the race for the next version ${appendAttempts} times; try again later`,
      })
    })

interface VaultRow {
  kind: VaultKind
  fields: ReadonlyArray<string>
  value: string
  expires_at: Date | string
}

export const vault = (ctx: StoreContext): Vault => {
  const t = `"${ctx.schema}".vault`
  const record = appendRecord(ctx)

  const keep: Vault["keep"] = (sessionId, values, options) =>
    Effect.gen(function* () {
      const id = yield* Effect.fromResult(checkStreamId(sessionId))
      const codec = yield* codecFor(ctx)
      const actor = yield* checkActor(options?.actor)
      const retention = Duration.fromInput(options?.retention as Duration.Input)
      if (
        retention._tag === "None" ||
        !Duration.isFinite(retention.value) ||
        Duration.toMillis(retention.value) < 1000 ||
        Duration.isGreaterThan(retention.value, maxRetention)
      ) {
        return yield* new InvalidArgument({
          argument: "retention",
          message: `retention must be a duration from 1 second to 10 years, got ${String(options?.retention)}`,
        })
      }
      const now = yield* nowOf(options.now)
      const rows: Array<{ kind: VaultKind; fields: ReadonlyArray<string>; json: string }> = []
      const add = (kind: VaultKind, value: object) => {
        const fields = fieldsOf(kind, value)
        if (fields.length > 0) rows.push({ kind, fields, json: JSON.stringify(value) })
      }
      if (values?.verifiedOutputs != null) {
        const decoded = decodeOutputs(values.verifiedOutputs)
        if (Result.isFailure(decoded))
          return yield* new InvalidArgument({
            argument: "verifiedOutputs",
            message: `not Stripe's verified_outputs: ${decoded.failure.message}`,
          })
        add("verified_outputs", decoded.success)
      }
      if (values?.providedDetails != null) {
        const decoded = decodeDetails(values.providedDetails)
        if (Result.isFailure(decoded))
          return yield* new InvalidArgument({
            argument: "providedDetails",
            message: `not Stripe's provided_details: ${decoded.failure.message}`,
          })
        add("provided_details", decoded.success)
      }
      for (const row of rows) {
        if (Buffer.byteLength(row.json) > maxValueBytes)
          return yield* new InvalidArgument({
            argument: row.kind,
            message: `a vault value is at most ${maxValueBytes} bytes of JSON`,
          })
      }
      if (rows.length === 0) return { _tag: "NothingToKeep" } as const

      const stored = yield* loadState(ctx)(id)
      if (stored.version === 0)
        return yield* new InvalidArgument({ argument: "sessionId", message: `no session ${id} in the log` })
      if (isRedacted(stored.facts?.redactionStatus ?? null)) return { _tag: "Erased" } as const
      const key = yield* codec.keys.forWriting(id)
      if (key._tag !== "Key") return { _tag: "Erased" } as const

      const expiresAt = new Date(now.getTime() + Duration.toMillis(retention.value))
      const fields = rows.flatMap((r) => r.fields).sort()
      const at = Math.floor(now.getTime() / 1000)
      // Recorded first: a value is never kept without the log saying so. Not for a session
      // erased meanwhile (asked of the table: another process's erasure may not be in our cache).
      const recorded = yield* record(
        id,
        (state) =>
          isRedacted(state.facts?.redactionStatus ?? null)
            ? Effect.succeed(undefined)
            : Effect.map(
                query("vaultErased", () =>
                  ctx.connection.pool.query<{ erased: boolean }>(
                    `select exists (select from "${ctx.schema}".session_erasures where session_id = $1) as erased`,
                    [id],
                  ),
                ),
                (r) =>
                  r.rows[0]?.erased === true
                    ? undefined
                    : ({
                        _tag: "VerifiedOutputsVaulted",
                        sessionId: id,
                        at,
                        fields,
                        expiresAt: Math.floor(expiresAt.getTime() / 1000),
                      } as const),
              ),
        localMetadata(actor, at, options.correlationId),
        { missing: "fail", state: stored },
      )
      if (recorded === "nothing") return { _tag: "Erased" } as const
      const written = yield* query("vaultKeep", () =>
        ctx.connection.pool.query(
          `insert into ${t} (session_id, kind, fields, value, kept_at, expires_at)
           select $1, kind, array(select jsonb_array_elements_text(fields)), value, $3, $4
             from jsonb_to_recordset($2::jsonb) as r(kind text, fields jsonb, value text)
           on conflict (session_id, kind) do update
             set fields = excluded.fields, value = excluded.value, kept_at = excluded.kept_at,
                 expires_at = excluded.expires_at`,
          [
            id,
            JSON.stringify(
              rows.map((r) => ({
                kind: r.kind,
                fields: r.fields,
                value: encryptValue(key.key, boundTo(id, r.kind), r.json),
              })),
            ),
            now,
            expiresAt,
          ],
        ),
      ).pipe(
        // The key was destroyed meanwhile (an erasure): the row may not outlive it.
        Effect.map(() => true),
        Effect.catchIf(
          (e) => e._tag === "StoreFailure" && sqlState(e.cause) === "23503",
          () => Effect.succeed(false),
        ),
      )
      return written ? ({ _tag: "Kept", fields, expiresAt } as const) : ({ _tag: "Erased" } as const)
    })

  const read: Vault["read"] = (sessionId, options) =>
    Effect.gen(function* () {
      const id = yield* Effect.fromResult(checkStreamId(sessionId))
      const codec = yield* codecFor(ctx)
      const actor = yield* checkActor(options?.actor)
      const reason = yield* checkReason(options?.reason)
      const only = yield* checkFields(options.fields)
      const now = yield* nowOf(options.now)
      const rows = (yield* query("vaultRead", () =>
        ctx.connection.pool.query<VaultRow>(
          `select kind, fields, value, expires_at from ${t} where session_id = $1 and expires_at > $2 order by kind`,
          [id, now],
        ),
      )).rows
      const key = (yield* codec.keys.lookup([id])).get(id) ?? { _tag: "None" as const }
      let verifiedOutputs: Partial<VerifiedOutputs> | null = null
      let providedDetails: ProvidedDetails | null = null
      const fields: Array<string> = []
      let expiresAt: Date | null = null
      if (key._tag === "Key") {
        for (const row of rows) {
          const json = decryptValue(key.key, boundTo(id, row.kind), row.value)
          if (json === undefined) continue
          const returned = only === undefined ? row.fields : row.fields.filter((f) => only.has(f))
          if (returned.length === 0) continue
          const all = JSON.parse(json) as Record<string, unknown>
          const value =
            only === undefined
              ? all
              : Object.fromEntries(Object.entries(all).filter(([k]) => only.has(`${row.kind}.${k}`)))
          if (row.kind === "verified_outputs") verifiedOutputs = value as Partial<VerifiedOutputs>
          else providedDetails = value as ProvidedDetails
          fields.push(...returned)
          const expiry = new Date(row.expires_at)
          if (expiresAt === null || expiry < expiresAt) expiresAt = expiry
        }
      }
      const at = Math.floor(now.getTime() / 1000)
      // Recorded before anything is returned: no read goes unrecorded.
      yield* record(
        id,
        () =>
          Effect.succeed({ _tag: "VaultAccessed", sessionId: id, at, reason, fields: [...fields].sort() }),
        localMetadata(actor, at, options.correlationId),
      )
      const status = key._tag === "Erased" ? "erased" : fields.length > 0 ? "kept" : "empty"
      return {
        sessionId: id,
        status,
        verifiedOutputs,
        providedDetails,
        fields: [...fields].sort(),
        expiresAt,
      } satisfies VaultContents
    })

  const expire: Vault["expire"] = (now) =>
    Effect.gen(function* () {
      yield* codecFor(ctx)
      const at = now ?? new Date(yield* Clock.currentTimeMillis)
      const result = yield* query("vaultExpire", () =>
        ctx.connection.pool.query(`delete from ${t} where expires_at <= $1`, [at]),
      )
      return result.rowCount ?? 0
    })

  return { keep, read, expire }
}
