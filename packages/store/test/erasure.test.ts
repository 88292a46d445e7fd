/**
 * Personal data under per-session keys, and erasure by destroying the key: nothing personal is
 * ever in a table in clear; after erasure nothing personal can be found in any table, readers
 * show `[erased]`, statuses, times and codes are unchanged, a rebuild gives the same rows, and a
 * payload delivered afterwards brings nothing back. The vault is part of it: its values are
 * encrypted, and erasure leaves none.
 */
import { randomBytes } from "node:crypto"
import { fc, test } from "@fast-check/vitest"
import { erasedValue, mapPersonalEvent, type VerificationSession } from "@idtrail/domain"
import { Effect } from "effect"
import { sql } from "kysely"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { contextOf } from "../src/context.ts"
import { keyEncryptionFromEnv, localKeyEncryption } from "../src/crypto/kek.ts"
import { openStore, type PromiseStore } from "../src/index.ts"
import { vault } from "../src/vault.ts"
import { actor, backends, dbOf, freshSchema, observation, openTestStore, snapshot } from "./fixtures.ts"

/** JSON of anything a reader returns (transaction ids are BigInts). */
const text = (value: unknown): string =>
  JSON.stringify(value, (_, v: unknown) => (typeof v === "bigint" ? v.toString() : v))

const kek = () => ({ keyEncryption: localKeyEncryption(randomBytes(32)), keyCacheMs: 0 })

/** Every row of every table of the store's schema, as text: what a byte search of a dump sees. */
const dumpOf = async (store: PromiseStore): Promise<string> => {
  const db = dbOf(store)
  const tables = await sql<{ table_name: string }>`select table_name from information_schema.tables
    where table_schema = ${store.schema} and table_type = 'BASE TABLE' order by 1`.execute(db)
  const parts: Array<string> = []
  for (const { table_name } of tables.rows) {
    const rows = await sql<{
      row: string
    }>`select t::text as row from ${sql.raw(`"${store.schema}"."${table_name}"`)} t`.execute(db)
    parts.push(`${table_name}:\n${rows.rows.map((r) => r.row).join("\n")}`)
  }
  return parts.join("\n")
}

/** The session projection's rows as text (all but `updated_at`, the time of the write), in id order. */
const sessionRows = async (store: PromiseStore): Promise<ReadonlyArray<string>> =>
  (
    await sql<{
      row: string
    }>`select (to_jsonb(v) - 'updated_at')::text as row from ${sql.raw(`"${store.schema}".verification_sessions`)} v
      order by session_id`.execute(dbOf(store))
  ).rows.map((r) => r.row)

/** A session's history at Stripe, every personal field carrying one of `values`. */
const historyOf = (id: string, values: ReadonlyArray<string>): ReadonlyArray<VerificationSession> => {
  const [ref, a, b, reason] = values as [string, string, string, string]
  const start = { client_reference_id: ref, metadata: { email: a, name: b } }
  return [
    snapshot(id, "requires_input", start),
    snapshot(id, "processing", start),
    snapshot(id, "requires_input", {
      ...start,
      metadata: { email: b, name: a },
      last_error: { code: "document_expired", reason },
    }),
    snapshot(id, "processing", { ...start, metadata: { email: b, name: a } }),
    snapshot(id, "verified", { ...start, metadata: { email: b, name: a, plan: reason } }),
  ]
}

for (const { name, databaseUrl } of backends) {
  describe(`personal data and erasure on ${name}`, () => {
    let store: PromiseStore & { dispose: () => Promise<void> }
    beforeAll(async () => {
      store = await openTestStore(databaseUrl, { encryption: kek() })
    })
    afterAll(async () => {
      await store?.dispose()
    })

    let n = 0
    test.prop(
      [
        fc.uniqueArray(fc.stringMatching(/^[a-z]{6,12}$/), { minLength: 4, maxLength: 4 }),
        fc.integer({ min: 1, max: 5 }),
      ],
      { numRuns: name === "pglite" ? 20 : 8 },
    )(
      "law: for any history and erasure point, no personal value is in any table before or after erasure, readers show [erased], statuses, times and codes are unchanged, a rebuild gives the same rows, and payloads delivered later bring nothing back",
      async (words, erasedAfter) => {
        const id = `vs_law_${++n}_${name}`
        const values = words.map((w, i) => `pii${i}${w}${n}`)
        const history = historyOf(id, values)
        for (const [i, s] of history.slice(0, erasedAfter).entries()) {
          await store.handle(id, observation(s, 1_760_000_100 + i * 10, "webhook", `evt_${id}_${i}`), {
            actor,
          })
        }
        // The vault holds verified outputs and provided details with the same personal values.
        const kept = vault(contextOf(store))
        const [first, email] = values as [string, string]
        await Effect.runPromise(
          kept.keep(
            id,
            {
              verifiedOutputs: {
                address: null,
                email,
                first_name: first,
                id_number_type: null,
                last_name: null,
                phone: null,
              },
              providedDetails: { email },
            },
            { actor, retention: "30 days" },
          ),
        )
        const read = await Effect.runPromise(kept.read(id, { actor, reason: "law" }))
        expect(read.verifiedOutputs?.first_name).toBe(first)
        const before = await store.readStream(id)
        const stateBefore = await store.state(id)
        expect(text(before)).toContain(values[0])
        const inClear = (text: string) => values.filter((v) => text.includes(v))
        expect(inClear(await dumpOf(store)), "personal values in clear before erasure").toEqual([])

        const erased = await store.erasure.erase(id, {
          actor: { kind: "user", id: "dpo" },
          reason: "request #7",
        })
        expect(erased).toEqual({ sessionId: id, newlyErased: true })
        // The rest of the history, then every payload again (old ones after erasure).
        for (const [i, s] of history.entries()) {
          if (i < erasedAfter) continue
          await store.handle(id, observation(s, 1_760_000_100 + i * 10, "webhook", `evt_${id}_${i}`), {
            actor,
          })
        }
        for (const [i, s] of history.entries())
          await store.handle(id, observation(s, 1_760_000_200 + i, "api"), { actor })

        expect(inClear(await dumpOf(store)), "personal values found after erasure").toEqual([])
        const vaultLeft = await sql<{ n: string }>`select count(*)::text as n from ${sql.raw(
          `"${store.schema}".vault`,
        )} where session_id = ${id}`.execute(dbOf(store))
        expect(vaultLeft.rows[0]!.n, "vault rows left after erasure").toBe("0")
        const readAfter = await Effect.runPromise(kept.read(id, { actor, reason: "law, after" }))
        expect(readAfter).toMatchObject({ status: "erased", verifiedOutputs: null, providedDetails: null })
        const after = await store.readStream(id)
        const erase = () => erasedValue
        // The log is untouched: the same events, the personal values now read as [erased].
        expect(after.slice(0, before.length)).toEqual(
          before.map((e) => ({ ...e, event: mapPersonalEvent(e.event, erase) })),
        )
        expect(inClear(text(after))).toEqual([])
        const state = await store.state(id)
        expect(state.facts?.metadata.email).toBe(erasedValue)
        expect(state.facts?.clientReferenceId).toBe(erasedValue)
        expect(state.facts?.created).toBe(stateBefore.facts?.created)
        const history2 = await store.audit.history(id)
        expect(inClear(text(history2))).toEqual([])

        const rows = await sessionRows(store)
        await store.rebuild("verification_sessions")
        expect(await sessionRows(store)).toEqual(rows)
        expect(inClear(await dumpOf(store))).toEqual([])
      },
    )

    it("a session's personal values read back as written until it is erased, and the erasure is listed with no key left", async () => {
      const id = `vs_plain_${name}`
      const s = snapshot(id, "requires_input", {
        client_reference_id: "cust-jane",
        metadata: { email: "jane@example.com", order: "o-1" },
      })
      await store.handle(id, observation(s, 1_760_000_000, "api"), { actor })
      expect((await store.state(id)).facts?.metadata).toEqual({ email: "jane@example.com", order: "o-1" })
      const page = await store.readAll({ after: null, limit: 10_000 })
      const started = page.events.find((e) => e.streamId === id)?.event
      expect(started?._tag === "SessionStarted" && started.facts.clientReferenceId).toBe("cust-jane")
      const db = dbOf(store)
      const stored = await sql<{ metadata: unknown; code: string | null }>`select metadata from ${sql.raw(
        `"${store.schema}".verification_sessions`,
      )} where session_id = ${id}`.execute(db)
      // Field names stay clear for audit queries; values do not.
      expect(Object.keys(stored.rows[0]!.metadata as object).sort()).toEqual(["email", "order"])
      expect(JSON.stringify(stored.rows[0]!.metadata)).not.toContain("jane")

      await store.erasure.erase(id, { actor: { kind: "user", id: "ops" }, reason: "data subject request" })
      expect(await store.erasure.erase(id, { actor, reason: "again" })).toEqual({
        sessionId: id,
        newlyErased: false,
      })
      expect((await store.state(id)).facts?.metadata).toEqual({ email: erasedValue, order: erasedValue })
      const listed = (await store.erasure.erased({ after: null, limit: 10_000 })).find(
        (e) => e.sessionId === id,
      )
      expect(listed).toMatchObject({
        actor: { kind: "user", id: "ops" },
        reason: "data subject request",
        keyRemains: false,
      })
      const keys = await sql<{ n: string }>`select count(*)::text as n from ${sql.raw(
        `"${store.schema}".session_keys`,
      )} where session_id = ${id}`.execute(db)
      expect(keys.rows[0]!.n).toBe("0")
    })

    it("appends racing to a new session share one key: every value reads back, none is stored in clear", async () => {
      const id = `vs_race_${name}`
      const emails = Array.from({ length: 8 }, (_, i) => `racer${i}@example.com`)
      await Promise.all(
        emails.map((email, i) =>
          store.handle(
            id,
            observation(
              snapshot(id, "requires_input", { metadata: { email } }),
              1_760_000_000 + i,
              "webhook",
              `evt_${id}_${i}`,
            ),
            { actor },
            // Eight racers: the last one may lose the race seven times.
            { maxRetries: 8 },
          ),
        ),
      )
      const read = text(await store.readStream(id))
      expect(read).not.toContain(erasedValue)
      expect(emails.filter((e) => read.includes(e)).length).toBeGreaterThan(0)
      const dump = await dumpOf(store)
      expect(emails.filter((e) => dump.includes(e))).toEqual([])
      const keys = await sql<{ n: string }>`select count(*)::text as n from ${sql.raw(
        `"${store.schema}".session_keys`,
      )} where session_id = ${id}`.execute(dbOf(store))
      expect(keys.rows[0]!.n).toBe("1")
    })

    it("an operator's erasure is recorded once in the log as SessionErased, with its actor and reason, and nothing personal", async () => {
      const id = `vs_recorded_${name}`
      const s = snapshot(id, "verified", { metadata: { email: "rec@example.com" } })
      await store.handle(id, observation(s, 1_760_000_000, "api"), { actor })
      const version = (await store.state(id)).version
      await store.erasure.erase(id, { actor: { kind: "user", id: "dpo" }, reason: "DSR-2040" })
      await store.erasure.erase(id, { actor: { kind: "user", id: "other" }, reason: "again" })
      const erased = (await store.readStream(id)).filter((e) => e.event._tag === "SessionErased")
      expect(erased).toHaveLength(1)
      expect(erased[0]!.event).toMatchObject({ sessionId: id, reason: "DSR-2040" })
      expect(erased[0]!.metadata).toMatchObject({ source: "local", actor: { kind: "user", id: "dpo" } })
      // It changes nothing of the session but its version.
      const state = await store.state(id)
      expect(state.version).toBe(version + 1)
      expect(state.facts?.status).toBe("verified")
      expect(await dumpOf(store)).not.toContain("rec@example.com")
      // A secret-shaped reason is refused before anything is destroyed.
      const other = `vs_recorded_two_${name}`
      await store.handle(
        other,
        observation(snapshot(other, "verified", { metadata: { a: "b" } }), 1, "api"),
        {
          actor,
        },
      )
      await expect(
        store.erasure.erase(other, { actor, reason: `sk_live_${"a".repeat(24)}` }),
      ).rejects.toMatchObject({ _tag: "ForbiddenField" })
      expect((await store.state(other)).facts?.metadata).toEqual({ a: "b" })
    })

    it.each(["webhook", "api"] as const)(
      "a redaction observed by %s erases the session automatically",
      async (source) => {
        const id = `vs_redacted_${source}_${name}`
        const s = snapshot(id, "verified", { metadata: { email: "joe@example.com" } })
        await store.handle(
          id,
          observation(s, 1_760_000_000, source, source === "webhook" ? `evt_${id}_1` : undefined),
          {
            actor,
          },
        )
        const redacted = snapshot(id, "verified", {
          metadata: { email: "[redacted]" },
          redaction: { status: "redacted" },
        })
        await store.handle(
          id,
          observation(redacted, 1_760_000_050, source, source === "webhook" ? `evt_${id}_2` : undefined),
          {
            actor,
          },
        )
        const listed = await store.erasure.erased({ after: null, limit: 10_000 })
        expect(listed.find((e) => e.sessionId === id)).toMatchObject({ keyRemains: false })
        expect(text(await store.readStream(id))).not.toContain("joe@example.com")
        expect(await dumpOf(store)).not.toContain("joe@example.com")
      },
    )

    it("erasure needs a reason, and a store without a key-encryption key refuses to erase", async () => {
      await expect(store.erasure.erase("vs_x", { actor, reason: " " })).rejects.toMatchObject({
        _tag: "InvalidArgument",
      })
      // Opening a second embedded PGlite costs seconds: the clear store is checked on Postgres.
      if (databaseUrl === undefined) return
      const clear = await openTestStore(databaseUrl, { encryption: "off" })
      try {
        expect(clear.personalData).toBe("clear")
        await expect(clear.erasure.erase("vs_x", { actor, reason: "r" })).rejects.toMatchObject({
          _tag: "EncryptionOff",
        })
      } finally {
        await clear.dispose()
      }
    })
  })
}

describe("the key-encryption key at start", () => {
  it("a malformed IDTRAIL_KEK or an unreadable IDTRAIL_KEK_FILE is a typed error", async () => {
    const { Effect } = await import("effect")
    for (const env of [
      { IDTRAIL_KEK: "c2hvcnQ=" },
      { IDTRAIL_KEK: "not base64!" },
      { IDTRAIL_KEK_FILE: "/nonexistent/kek" },
    ]) {
      const result = await Effect.runPromise(Effect.flip(keyEncryptionFromEnv(env)))
      expect(result._tag).toBe("KeyEncryptionKeyInvalid")
    }
    const ok = await Effect.runPromise(
      keyEncryptionFromEnv({ IDTRAIL_KEK: randomBytes(32).toString("base64") }),
    )
    expect(ok?.id).toMatch(/^local:/)
  })

  // Reopening a schema needs a database that outlives a store: Postgres (an in-memory PGlite
  // dies with its store, and opening a PGlite directory four times costs a minute here).
  const reopenCases = backends.filter((b) => b.databaseUrl !== undefined)
  for (const { name, databaseUrl } of reopenCases) {
    it(`on ${name}, a wrong or missing key-encryption key refuses to start, and nothing is written`, async () => {
      const schema = freshSchema()
      const first = kek()
      const id = "vs_kek"
      const store = await openStore({ databaseUrl, schema, encryption: first })
      await store.handle(
        id,
        observation(snapshot(id, "requires_input", { metadata: { a: "b" } }), 1, "api"),
        {
          actor,
        },
      )
      const before = await dumpOf(store)
      await store.close()
      const wrong = openStore({ databaseUrl, schema, encryption: kek() })
      await expect(wrong).rejects.toMatchObject({ _tag: "KeyEncryptionKeyInvalid" })
      const missing = openStore({ databaseUrl, schema, encryption: "off" })
      await expect(missing).rejects.toMatchObject({ _tag: "KeyEncryptionKeyMissing" })
      const again = await openStore({ databaseUrl, schema, encryption: first })
      try {
        expect(await dumpOf(again)).toBe(before)
        expect((await again.state(id)).facts?.metadata).toEqual({ a: "b" })
      } finally {
        await sql.raw(`drop schema if exists "${schema}" cascade`).execute(dbOf(again))
        await again.close()
      }
    })
  }
})
