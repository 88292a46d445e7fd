/**
 * Each session's data key, in `session_keys` wrapped by the KEK, and the erasures in
 * `session_erasures` (migration 0013). Unwrapped keys are cached for a few seconds, so appends to
 * a session already seen cost no round trip; an erasure in this process takes effect at once,
 * one in another process within `keyCacheMs` (whatever is written meanwhile is under the
 * destroyed key, so it is unreadable too).
 *
 * @since 0.1.0
 */
import { randomBytes } from "node:crypto"
import { Effect } from "effect"
import type { StoreContext } from "../context.ts"
import type { DatabaseError } from "../errors.ts"
import type { Actor } from "../metadata.ts"
import { query } from "../sql-errors.ts"
import { type DataKey, dataKeyOf } from "./cipher.ts"
import { KeyEncryptionKeyInvalid, KeyEncryptionKeyMissing } from "./errors.ts"
import type { KeyEncryptionService } from "./kek.ts"

/** What a session's personal values are under. */
export type KeyState =
  | { readonly _tag: "Key"; readonly key: DataKey }
  | { readonly _tag: "Erased" }
  /** No key and not erased: nothing of it was ever encrypted. */
  | { readonly _tag: "None" }

const erased: KeyState = { _tag: "Erased" }
const none: KeyState = { _tag: "None" }

/** One erased session, and whether a key remains for it (the proof: never). */
export interface ErasedSession {
  readonly sessionId: string
  readonly erasedAt: Date
  readonly actor: Actor
  readonly reason: string
  readonly keyRemains: boolean
  /** Whether a vault row remains for it (never: a row cannot outlive the key). */
  readonly vaultRemains: boolean
}

export interface SessionKeys {
  /** The key states of these sessions (from the cache, else one query). */
  readonly lookup: (
    sessionIds: ReadonlyArray<string>,
  ) => Effect.Effect<ReadonlyMap<string, KeyState>, DatabaseError>
  /** The session's key, made now if it has none; `Erased` for an erased session (it never gets a new key). */
  readonly forWriting: (sessionId: string) => Effect.Effect<KeyState, DatabaseError | KeyEncryptionKeyInvalid>
  /** Destroys the key and records the erasure; `false` when the session was erased already. */
  readonly erase: (sessionId: string, actor: Actor, reason: string) => Effect.Effect<boolean, DatabaseError>
  /** Erased sessions, by id, after `after`. */
  readonly erasedSessions: (page: {
    readonly after: string | null
    readonly limit: number
  }) => Effect.Effect<ReadonlyArray<ErasedSession>, DatabaseError>
}

const checkValue = Buffer.from("idtrail key-encryption check v1")

/**
 * Refuses a KEK this schema's keys are not wrapped by, and a missing one when they are; records
 * the KEK's check value on first use. Nothing else is written.
 */
export const checkKeyEncryption = (
  ctx: StoreContext,
  kek: KeyEncryptionService | undefined,
): Effect.Effect<void, KeyEncryptionKeyMissing | KeyEncryptionKeyInvalid | DatabaseError> =>
  Effect.gen(function* () {
    const rows = (yield* query("checkKeyEncryption", () =>
      ctx.connection.pool.query<{ kek_id: string; wrapped: string }>(
        `select kek_id, encode(wrapped_check, 'base64') as wrapped from "${ctx.schema}".key_encryption_check`,
      ),
    )).rows
    if (kek === undefined) {
      if (rows.length === 0) return
      return yield* new KeyEncryptionKeyMissing({
        message:
          `the personal data in schema ${ctx.schema} is encrypted under the key-encryption key ` +
          `${rows.map((r) => r.kek_id).join(", ")}, and none was given: set IDTRAIL_KEK (base64 of 32 bytes) ` +
          "or IDTRAIL_KEK_FILE",
      })
    }
    const mine = rows.find((r) => r.kek_id === kek.id)
    if (mine === undefined && rows.length > 0) {
      return yield* new KeyEncryptionKeyInvalid({
        message:
          `the key-encryption key given (${kek.id}) is not the one schema ${ctx.schema}'s keys are wrapped by ` +
          `(${rows.map((r) => r.kek_id).join(", ")})`,
      })
    }
    if (mine !== undefined) {
      const unwrapped = yield* kek.unwrap(Buffer.from(mine.wrapped, "base64"))
      if (!Buffer.from(unwrapped).equals(checkValue))
        return yield* new KeyEncryptionKeyInvalid({ message: `the check value of ${kek.id} does not match` })
      return
    }
    const wrapped = yield* kek.wrap(checkValue)
    yield* query("checkKeyEncryption", () =>
      ctx.connection.pool.query(
        `insert into "${ctx.schema}".key_encryption_check (kek_id, wrapped_check) values ($1, decode($2, 'base64'))
         on conflict (kek_id) do nothing`,
        [kek.id, Buffer.from(wrapped).toString("base64")],
      ),
    )
  })

interface Cached {
  readonly state: KeyState
  readonly until: number
}

const maxCached = 50_000

/** The keys of one store; `kek` undefined: personal data in clear, only erasures are known. */
export const sessionKeys = (
  ctx: StoreContext,
  kek: KeyEncryptionService | undefined,
  keyCacheMs: number,
): SessionKeys => {
  const t = (name: string) => `"${ctx.schema}".${name}`
  const cache = new Map<string, Cached>()
  const remember = (id: string, state: KeyState) => {
    if (cache.size >= maxCached) cache.delete(cache.keys().next().value!)
    // An erasure is for good; a key may be destroyed by another process.
    cache.set(id, {
      state,
      until: state._tag === "Erased" ? Number.POSITIVE_INFINITY : Date.now() + keyCacheMs,
    })
  }
  const cached = (id: string): KeyState | undefined => {
    const hit = cache.get(id)
    if (hit === undefined) return undefined
    if (hit.until >= Date.now()) return hit.state
    cache.delete(id)
    return undefined
  }
  const unwrapRow = (
    wrapped: string | null,
    isErased: boolean,
  ): Effect.Effect<KeyState, KeyEncryptionKeyInvalid> =>
    isErased
      ? Effect.succeed(erased)
      : wrapped === null || kek === undefined
        ? Effect.succeed(none)
        : Effect.map(kek.unwrap(Buffer.from(wrapped, "base64")), (raw) => ({
            _tag: "Key" as const,
            key: dataKeyOf(raw),
          }))

  const lookup: SessionKeys["lookup"] = (sessionIds) =>
    Effect.gen(function* () {
      const out = new Map<string, KeyState>()
      const missing: Array<string> = []
      for (const id of sessionIds) {
        const hit = cached(id)
        if (hit === undefined) missing.push(id)
        else out.set(id, hit)
      }
      if (missing.length === 0) return out
      const rows = (yield* query("sessionKeys", () =>
        ctx.connection.pool.query<{ session_id: string; wrapped: string | null; erased: boolean }>(
          `select id as session_id, encode(k.wrapped_key, 'base64') as wrapped, e.session_id is not null as erased
             from unnest($1::text[]) as id
             left join ${t("session_keys")} k on k.session_id = id
             left join ${t("session_erasures")} e on e.session_id = id`,
          [missing],
        ),
      )).rows
      for (const row of rows) {
        // A key that does not unwrap is unreadable: shown as erased, never a crash of every reader.
        const state = yield* Effect.orElseSucceed(unwrapRow(row.wrapped, row.erased), () => erased)
        remember(row.session_id, state)
        out.set(row.session_id, state)
      }
      return out
    })

  const forWriting: SessionKeys["forWriting"] = (sessionId) =>
    Effect.gen(function* () {
      const known = (yield* lookup([sessionId])).get(sessionId) ?? none
      if (known._tag !== "None" || kek === undefined) return known
      const raw = randomBytes(32)
      const wrapped = Buffer.from(yield* kek.wrap(raw)).toString("base64")
      // Never a new key for an erased session; a concurrent writer's key wins over ours.
      const row = (yield* query("createSessionKey", () =>
        ctx.connection.pool.query<{ wrapped: string | null; erased: boolean }>(
          `with made as (
             insert into ${t("session_keys")} (session_id, wrapped_key, kek_id)
             select $1, decode($2, 'base64'), $3
              where not exists (select from ${t("session_erasures")} where session_id = $1)
             on conflict (session_id) do nothing returning wrapped_key)
           select coalesce((select encode(wrapped_key, 'base64') from made),
                           (select encode(wrapped_key, 'base64') from ${t("session_keys")} where session_id = $1)) as wrapped,
                  exists (select from ${t("session_erasures")} where session_id = $1) as erased`,
          [sessionId, wrapped, kek.id],
        ),
      )).rows[0]!
      if (row.wrapped === wrapped) {
        const state = { _tag: "Key", key: dataKeyOf(raw) } as const
        remember(sessionId, state)
        return state
      }
      if (row.wrapped !== null || row.erased) {
        const state = yield* unwrapRow(row.wrapped, row.erased)
        remember(sessionId, state)
        return state
      }
      // A writer that committed its key after this statement's snapshot: read it afresh.
      cache.delete(sessionId)
      const again = (yield* lookup([sessionId])).get(sessionId)
      if (again === undefined || again._tag === "None")
        return yield* Effect.die(new Error(`no data key for ${sessionId} after creating one`))
      return again
    })

  const erase: SessionKeys["erase"] = (sessionId, actor, reason) =>
    Effect.gen(function* () {
      const result = yield* query("eraseSession", () =>
        ctx.connection.pool.query<{ recorded: boolean }>(
          `with recorded as (
             insert into ${t("session_erasures")} (session_id, actor, reason) values ($1, $2::jsonb, $3)
             on conflict (session_id) do nothing returning session_id),
           destroyed as (delete from ${t("session_keys")} where session_id = $1)
           select exists (select from recorded) as recorded`,
          [sessionId, JSON.stringify(actor), reason],
        ),
      )
      remember(sessionId, erased)
      return result.rows[0]?.recorded === true
    })

  const erasedSessions: SessionKeys["erasedSessions"] = ({ after, limit }) =>
    Effect.map(
      query("erasedSessions", () =>
        ctx.connection.pool.query<{
          session_id: string
          erased_at: Date | string
          actor: Actor
          reason: string
          key_remains: boolean
          vault_remains: boolean
        }>(
          `select e.session_id, e.erased_at, e.actor, e.reason,
                  exists (select from ${t("session_keys")} k where k.session_id = e.session_id) as key_remains,
                  exists (select from ${t("vault")} v where v.session_id = e.session_id) as vault_remains
             from ${t("session_erasures")} e
            where $1::text is null or e.session_id > $1
            order by e.session_id limit $2`,
          [after, limit],
        ),
      ),
      (r) =>
        r.rows.map((row) => ({
          sessionId: row.session_id,
          erasedAt: new Date(row.erased_at),
          actor: row.actor,
          reason: row.reason,
          keyRemains: row.key_remains,
          vaultRemains: row.vault_remains,
        })),
    )

  return { lookup, forWriting, erase, erasedSessions }
}
