/**
 * The opt-in vault: verified outputs and provided details kept encrypted outside the log until
 * their retention ends; every read recorded in the log with who and why; erasure and redaction
 * leave nothing; no vault value ever reaches the log.
 */
import { randomBytes } from "node:crypto"
import type { SessionEvent, VerifiedOutputs } from "@idtrail/domain"
import { Effect } from "effect"
import { sql } from "kysely"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { contextOf } from "../src/context.ts"
import { localKeyEncryption } from "../src/crypto/kek.ts"
import { openStore, type PromiseStore } from "../src/index.ts"
import { type ProvidedDetails, type Vault, vault } from "../src/vault.ts"
import { actor, backends, dbOf, observation, openTestStore, snapshot } from "./fixtures.ts"

const kek = () => ({ keyEncryption: localKeyEncryption(randomBytes(32)), keyCacheMs: 0 })

const outputs = (first: string, email: string): VerifiedOutputs => ({
  address: {
    city: "Lyon",
    country: "FR",
    line1: `${first} street 1`,
    line2: null,
    postal_code: "69001",
    state: null,
  },
  dob: { day: 1, month: 2, year: 1990 },
  email,
  first_name: first,
  id_number_type: null,
  last_name: "Doe",
  phone: null,
})

const dpo = { kind: "user", id: "dpo" } as const

/** A store's vault: the Promise facade's (`store.vault`), and the service's for typed failures. */
const vaultOf = (store: PromiseStore) => ({
  keep: store.vault.keep,
  read: store.vault.read,
  expire: store.vault.expire,
  /** The typed error an operation fails with. */
  failure: <E>(effect: (v: Vault) => Effect.Effect<unknown, E>) =>
    Effect.runPromise(Effect.flip(effect(store.service.vault))),
})

const text = (value: unknown): string =>
  JSON.stringify(value, (_, v: unknown) => (typeof v === "bigint" ? v.toString() : v))

/** Every row of the log, as text: what a byte search of the events table sees. */
const logDump = async (store: PromiseStore): Promise<string> =>
  (
    await sql<{ row: string }>`select e::text as row from ${sql.raw(`"${store.schema}".events`)} e`.execute(
      dbOf(store),
    )
  ).rows
    .map((r) => r.row)
    .join("\n")

const vaultRows = async (store: PromiseStore, id?: string) =>
  (
    await sql<{ session_id: string; kind: string; row: string }>`select session_id, kind, v::text as row
      from ${sql.raw(`"${store.schema}".vault`)} v
      where ${id === undefined ? sql`true` : sql`session_id = ${id}`} order by kind`.execute(dbOf(store))
  ).rows

const eventsOf = async (store: PromiseStore, id: string, tag: SessionEvent["_tag"]) =>
  (await store.readStream(id)).filter((e) => e.event._tag === tag)

for (const { name, databaseUrl } of backends) {
  describe(`the vault on ${name}`, () => {
    let store: PromiseStore & { dispose: () => Promise<void> }
    let v: ReturnType<typeof vaultOf>
    const firstKek = kek()
    beforeAll(async () => {
      store = await openTestStore(databaseUrl, { encryption: firstKek })
      v = vaultOf(store)
    })
    afterAll(async () => {
      await store?.dispose()
    })

    let n = 0
    /** A session in the log, with personal metadata (so it has a key). */
    const session = async (status = "verified") => {
      const id = `vs_vault_${++n}_${name}`
      await store.handle(
        id,
        observation(snapshot(id, status, { metadata: { order: `o-${n}` } }), 1_760_000_000 + n, "api"),
        { actor },
      )
      return id
    }

    it("values are kept encrypted and read back until their retention ends; expire deletes exactly the rows past it", async () => {
      const now = new Date("2026-12-07T00:00:00Z")
      const short = await session()
      const long = await session()
      const details: ProvidedDetails = { email: "kim@example.com" }
      const kept = await v.keep(
        short,
        { verifiedOutputs: outputs("Kimberly", "kim@example.com"), providedDetails: details },
        { actor, retention: "1 hour", now },
      )
      expect(kept).toEqual({
        _tag: "Kept",
        fields: [
          "provided_details.email",
          "verified_outputs.address",
          "verified_outputs.dob",
          "verified_outputs.email",
          "verified_outputs.first_name",
          "verified_outputs.last_name",
        ],
        expiresAt: new Date("2026-12-07T01:00:00Z"),
      })
      await v.keep(
        long,
        { verifiedOutputs: outputs("Lorenzo", "lo@example.com") },
        { actor, retention: "30 days", now },
      )
      // Encrypted in its table: neither value is there in clear.
      const rows = text(await vaultRows(store))
      expect(rows).not.toContain("Kimberly")
      expect(rows).not.toContain("kim@example.com")
      expect(rows).not.toContain("Lorenzo")

      const before = await v.read(short, {
        actor: dpo,
        reason: "KYC review",
        now: new Date(now.getTime() + 59 * 60_000),
      })
      expect(before).toMatchObject({ status: "kept", providedDetails: details })
      expect(before.verifiedOutputs?.first_name).toBe("Kimberly")
      expect(before.expiresAt).toEqual(new Date("2026-12-07T01:00:00Z"))

      // Past its retention a value reads as nothing kept, even before the sweep deletes it.
      const later = new Date(now.getTime() + 61 * 60_000)
      const after = await v.read(short, { actor: dpo, reason: "KYC review", now: later })
      expect(after).toMatchObject({
        status: "empty",
        verifiedOutputs: null,
        providedDetails: null,
        fields: [],
      })

      expect(await v.expire(later)).toBe(2)
      expect(await vaultRows(store, short)).toEqual([])
      expect((await vaultRows(store, long)).map((r) => r.kind)).toEqual(["verified_outputs"])
      expect(await v.expire(later)).toBe(0)
      expect(
        (await v.read(long, { actor: dpo, reason: "audit", now: later })).verifiedOutputs?.first_name,
      ).toBe("Lorenzo")
    })

    it("keeping is recorded in the log with the fields and the expiry, never the values", async () => {
      const id = await session()
      const now = new Date("2026-12-07T00:00:00Z")
      await v.keep(
        id,
        { verifiedOutputs: outputs("Quentin", "q@example.com") },
        { actor, retention: "7 days", now },
      )
      const [vaulted] = await eventsOf(store, id, "VerifiedOutputsVaulted")
      expect(vaulted?.event).toMatchObject({
        fields: [
          "verified_outputs.address",
          "verified_outputs.dob",
          "verified_outputs.email",
          "verified_outputs.first_name",
          "verified_outputs.last_name",
        ],
        expiresAt: Date.parse("2026-12-14T00:00:00Z") / 1000,
      })
      expect(vaulted?.metadata).toMatchObject({ actor, source: "local", account: "default", livemode: false })
      const log = await logDump(store)
      expect(log).not.toContain("Quentin")
      expect(log).not.toContain("q@example.com")
    })

    it("every read is recorded before it returns: who, why and which fields (also an empty read)", async () => {
      const id = await session()
      const now = new Date("2026-12-07T00:00:00Z")
      await v.keep(
        id,
        { providedDetails: { email: "ria@example.com", phone: "+33600000000" } },
        {
          actor,
          retention: "1 day",
          now,
        },
      )
      const versionBefore = (await store.state(id)).version
      await v.read(id, { actor: dpo, reason: "DSR-7 export", now })
      await v.read(id, { actor: { kind: "service", id: "kyc-app" }, reason: "payout check", now })
      await v.read(id, {
        actor: dpo,
        reason: "after retention",
        now: new Date(now.getTime() + 2 * 86_400_000),
      })
      const accesses = await eventsOf(store, id, "VaultAccessed")
      expect(accesses.map((e) => [e.metadata.actor, e.event])).toEqual([
        [
          dpo,
          expect.objectContaining({
            reason: "DSR-7 export",
            fields: ["provided_details.email", "provided_details.phone"],
          }),
        ],
        [
          { kind: "service", id: "kyc-app" },
          expect.objectContaining({
            reason: "payout check",
            fields: ["provided_details.email", "provided_details.phone"],
          }),
        ],
        [dpo, expect.objectContaining({ reason: "after retention", fields: [] })],
      ])
      // An access changes nothing of the session but its version.
      const state = await store.state(id)
      expect(state.version).toBe(versionBefore + 3)
      expect(state.facts?.metadata).toEqual({ order: expect.stringMatching(/^o-/) })
      expect(await logDump(store)).not.toContain("ria@example.com")
    })

    it("a read of chosen fields returns and records only those; an unknown field is refused with nothing recorded", async () => {
      const id = await session()
      await v.keep(
        id,
        {
          verifiedOutputs: outputs("Fern", "fern@example.com"),
          providedDetails: { email: "fern@example.com" },
        },
        { actor, retention: "1 day" },
      )
      const dob = await v.read(id, { actor: dpo, reason: "age check", fields: ["verified_outputs.dob"] })
      expect(dob).toMatchObject({
        status: "kept",
        verifiedOutputs: { dob: { day: 1, month: 2, year: 1990 } },
        providedDetails: null,
        fields: ["verified_outputs.dob"],
      })
      expect(Object.keys(dob.verifiedOutputs ?? {})).toEqual(["dob"])
      expect(text(dob)).not.toContain("Fern")
      const refused = await v.failure((w) =>
        w.read(id, { actor: dpo, reason: "r", fields: ["verified_outputs.iban"] }),
      )
      expect(refused).toMatchObject({ _tag: "InvalidArgument", argument: "fields" })
      expect(
        (await eventsOf(store, id, "VaultAccessed")).map((e) => (e.event as { fields: unknown }).fields),
      ).toEqual([["verified_outputs.dob"]])
    })

    it("operator erasure deletes the session's vault rows at once: nothing left, nothing readable, the read recorded", async () => {
      const id = await session()
      await v.keep(
        id,
        { verifiedOutputs: outputs("Erin", "erin@example.com") },
        { actor, retention: "30 days" },
      )
      expect(await vaultRows(store, id)).toHaveLength(1)
      await store.erasure.erase(id, { actor: dpo, reason: "DSR-9" })
      expect(await vaultRows(store, id)).toEqual([])
      // The proof lists it with neither a key nor a vault row left.
      const listed = await store.erasure.erased({ after: null, limit: 10_000 })
      expect(listed.find((e) => e.sessionId === id)).toMatchObject({ keyRemains: false, vaultRemains: false })
      const read = await v.read(id, { actor: dpo, reason: "check erasure" })
      expect(read).toMatchObject({
        status: "erased",
        verifiedOutputs: null,
        providedDetails: null,
        fields: [],
      })
      expect(await eventsOf(store, id, "VaultAccessed")).toHaveLength(1)
      // Nothing can be kept for it any more.
      expect(
        await v.keep(
          id,
          { verifiedOutputs: outputs("Erin", "erin@example.com") },
          { actor, retention: "1 day" },
        ),
      ).toEqual({
        _tag: "Erased",
      })
      expect(await vaultRows(store, id)).toEqual([])
      const dump = text(await vaultRows(store)) + (await logDump(store))
      expect(dump).not.toContain("Erin")
    })

    it.each(["webhook", "api"] as const)(
      "a redaction observed by %s deletes the session's vault rows at once",
      async (source) => {
        const id = await session()
        await v.keep(
          id,
          { verifiedOutputs: outputs("Rhea", "rhea@example.com") },
          { actor, retention: "30 days" },
        )
        const redacted = snapshot(id, "verified", {
          metadata: { order: "[redacted]" },
          redaction: { status: "redacted" },
        })
        await store.handle(
          id,
          observation(
            redacted,
            1_760_100_000,
            source,
            source === "webhook" ? `evt_${id}_redacted` : undefined,
          ),
          { actor },
        )
        expect(await vaultRows(store, id)).toEqual([])
        expect((await v.read(id, { actor: dpo, reason: "check" })).status).toBe("erased")
        expect(text(await vaultRows(store)) + (await logDump(store))).not.toContain("Rhea")
      },
    )

    it("bad input is a typed error and writes nothing", async () => {
      const id = await session()
      const version = (await store.state(id)).version
      const good = { verifiedOutputs: outputs("Bea", "bea@example.com") }
      const cases: ReadonlyArray<[string, (v: Vault) => Effect.Effect<unknown, { _tag: string }>]> = [
        ["InvalidArgument", (v) => v.keep(id, good, { actor, retention: "0 seconds" })],
        ["InvalidArgument", (v) => v.keep(id, good, { actor, retention: "20000 days" })],
        ["InvalidArgument", (v) => v.keep(id, good, { actor, retention: "soon" as never })],
        [
          "InvalidArgument",
          (v) => v.keep(id, { verifiedOutputs: { first_name: 3 } as never }, { actor, retention: "1 day" }),
        ],
        [
          "InvalidArgument",
          (v) => v.keep(id, good, { actor: { kind: "robot", id: "x" } as never, retention: "1 day" }),
        ],
        ["InvalidArgument", (v) => v.keep("vs_never_seen", good, { actor, retention: "1 day" })],
        ["InvalidStreamId", (v) => v.keep("", good, { actor, retention: "1 day" })],
        ["InvalidArgument", (v) => v.read(id, { actor: dpo, reason: "  " })],
        ["InvalidArgument", (v) => v.read("vs_never_seen", { actor: dpo, reason: "r" })],
        ["ForbiddenField", (v) => v.read(id, { actor: dpo, reason: `key ${"sk_live_"}${"a".repeat(24)}` })],
      ]
      for (const [tag, run] of cases) expect((await v.failure(run))._tag, tag).toBe(tag)
      expect(await v.keep(id, { verifiedOutputs: null }, { actor, retention: "1 day" })).toEqual({
        _tag: "NothingToKeep",
      })
      expect(await vaultRows(store, id)).toEqual([])
      expect((await store.state(id)).version).toBe(version)
      expect(text(await vaultRows(store)) + (await logDump(store))).not.toContain("Bea")
    })

    // Concurrency on real Postgres only: PGlite is one connection, so nothing there runs at once.
    it.skipIf(databaseUrl === undefined)(
      "concurrent reads are each recorded, and a keep racing an erasure never leaves a row",
      async () => {
        const id = await session()
        await v.keep(id, { providedDetails: { email: "con@example.com" } }, { actor, retention: "1 day" })
        const reads = await Promise.all(
          Array.from({ length: 10 }, (_, i) => v.read(id, { actor: dpo, reason: `parallel ${i}` })),
        )
        expect(reads.every((r) => r.providedDetails?.email === "con@example.com")).toBe(true)
        const reasons = (await eventsOf(store, id, "VaultAccessed")).map(
          (e) => (e.event as { reason: string }).reason,
        )
        expect(reasons.sort()).toEqual(Array.from({ length: 10 }, (_, i) => `parallel ${i}`).sort())

        const ids = await Promise.all(Array.from({ length: 8 }, () => session()))
        const outcomes = await Promise.all(
          ids.flatMap((sid, i) => [
            v.keep(
              sid,
              { verifiedOutputs: outputs("Racer", "racer@example.com") },
              { actor, retention: "1 day" },
            ),
            // Staggered, so erasures land before, during and after the keeps.
            new Promise((resolve) => setTimeout(resolve, i * 4)).then(() =>
              store.erasure.erase(sid, { actor: dpo, reason: "race" }),
            ),
          ]),
        )
        expect(outcomes.length).toBe(16)
        for (const sid of ids) expect(await vaultRows(store, sid)).toEqual([])
        expect(text(await vaultRows(store))).not.toContain("Racer")
      },
    )

    it.skipIf(databaseUrl === undefined)(
      "a process that still has the key cached keeps nothing once another has destroyed it",
      async () => {
        const id = await session()
        // A second store on the same schema, caching keys for a minute: another process.
        const other = await openStore({
          databaseUrl,
          schema: store.schema,
          migrate: false,
          encryption: { keyEncryption: firstKek.keyEncryption, keyCacheMs: 60_000 },
        })
        try {
          const w = vaultOf(other)
          await w.read(id, { actor: dpo, reason: "warms the key cache" })
          await store.erasure.erase(id, { actor: dpo, reason: "DSR-11" })
          expect(
            await w.keep(
              id,
              { verifiedOutputs: outputs("Stale", "stale@example.com") },
              { actor, retention: "1 day" },
            ),
          ).toEqual({ _tag: "Erased" })
          expect(await vaultRows(store, id)).toEqual([])
          // Nor does the log say it kept anything after the erasure.
          expect(await eventsOf(store, id, "VerifiedOutputsVaulted")).toEqual([])
          // The key destroyed between that check and the write (here by hand, without the
          // erasure's record): the row's foreign key refuses it.
          const late = await session()
          await w.read(late, { actor: dpo, reason: "warms the key cache" })
          await sql`delete from ${sql.raw(`"${store.schema}".session_keys`)} where session_id = ${late}`.execute(
            dbOf(store),
          )
          expect(
            await w.keep(
              late,
              { verifiedOutputs: outputs("Late", "late@example.com") },
              { actor, retention: "1 day" },
            ),
          ).toEqual({ _tag: "Erased" })
          expect(await vaultRows(store, late)).toEqual([])
        } finally {
          await other.close()
        }
      },
    )

    it("without a key-encryption key the vault refuses every operation (EncryptionOff), nothing written", async () => {
      // A context with no codec registered: a store opened without a KEK.
      const clear = vault({ ...contextOf(store) })
      const id = await session()
      for (const op of [
        clear.keep(id, { verifiedOutputs: outputs("Cleo", "c@example.com") }, { actor, retention: "1 day" }),
        clear.read(id, { actor: dpo, reason: "r" }),
        clear.expire(),
      ]) {
        expect(
          (await Effect.runPromise(Effect.flip(op as Effect.Effect<unknown, { _tag: string }>)))._tag,
        ).toBe("EncryptionOff")
      }
      expect(await vaultRows(store, id)).toEqual([])
      expect(await eventsOf(store, id, "VaultAccessed")).toEqual([])
    })
  })
}
