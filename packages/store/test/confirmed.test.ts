/**
 * The newest authoritative read handled (`confirmed_at`) beside each stream (issue 10, item 6): a
 * read that changes nothing still makes every older observation stale, and a decision made
 * before a newer read was handled never lands.
 */
import type { SessionCommand } from "@idtrail/domain"
import { sql } from "kysely"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { actor, backends, dbOf, metadata, observation, openTestStore, snapshot } from "./fixtures.ts"

const T = 1_760_000_000
const statuses = ["requires_input", "processing", "verified", "canceled"] as const

const read = (id: string, status: string, at: number): SessionCommand =>
  observation(
    snapshot(id, status, {
      last_error:
        status === "requires_input" ? { code: "document_unverified_other", reason: "unreadable" } : null,
    }),
    at,
    "reconciler",
  )

/** A small deterministic generator (mulberry32), so a failing run can be repeated. */
const random = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
}

const shuffled = <A>(items: ReadonlyArray<A>, next: () => number): Array<A> => {
  const out = [...items]
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1))
    ;[out[i], out[j]] = [out[j]!, out[i]!]
  }
  return out
}

const confirmedColumn = async (store: Awaited<ReturnType<typeof openTestStore>>, id: string) => {
  const { rows } = await sql<{ confirmed_at: string | null; version: string }>`
    select confirmed_at::text, version::text from ${sql.raw(`"${store.schema}"`)}.verification_sessions
     where session_id = ${id}`.execute(dbOf(store))
  return rows[0]
}

describe.each(backends)("confirmedAt on $name", ({ databaseUrl }) => {
  let store: Awaited<ReturnType<typeof openTestStore>>
  beforeAll(async () => {
    store = await openTestStore(databaseUrl)
  })
  afterAll(async () => {
    await store?.dispose()
  })

  it("the issue's case: processing at T+10, then requires_input at T+5, handled in that order, ends processing", async () => {
    await store.handle("vs_c1", read("vs_c1", "processing", T), { actor })
    const confirming = await store.handle("vs_c1", read("vs_c1", "processing", T + 10), { actor })
    expect(confirming).toMatchObject({ _tag: "NothingToDo", version: 1 })
    expect(await confirmedColumn(store, "vs_c1")).toEqual({ confirmed_at: String(T + 10), version: "1" })
    expect(await store.readStream("vs_c1")).toHaveLength(1) // no event for the confirming read
    const older = await store.handle("vs_c1", read("vs_c1", "requires_input", T + 5), { actor })
    expect(older._tag).toBe("NothingToDo")
    expect((await store.state("vs_c1")).facts?.status).toBe("processing")
    expect((await store.state("vs_c1")).confirmedAt).toBe(T + 10)
  })

  it("a dry run moves nothing; an older or equal read writes nothing", async () => {
    await store.handle("vs_c2", read("vs_c2", "processing", T), { actor })
    await store.handle("vs_c2", read("vs_c2", "processing", T + 10), { actor }, { dryRun: true })
    expect(await confirmedColumn(store, "vs_c2")).toEqual({ confirmed_at: String(T), version: "1" })
    await store.handle("vs_c2", read("vs_c2", "processing", T - 3), { actor })
    expect(await confirmedColumn(store, "vs_c2")).toEqual({ confirmed_at: String(T), version: "1" })
  })

  it("an append decided before a newer read was handled is a conflict; nothing is written", async () => {
    await store.handle("vs_c3", read("vs_c3", "processing", T), { actor })
    const seen = await store.state("vs_c3")
    await store.handle("vs_c3", read("vs_c3", "processing", T + 10), { actor })
    const failed = [
      {
        _tag: "VerificationFailed",
        sessionId: "vs_c3",
        at: T + 5,
        code: null,
        reason: null,
        lastVerificationReport: null,
      } as const,
    ]
    const late = await store.appendToStream("vs_c3", failed, {
      expectedVersion: 1,
      state: seen,
      expectedConfirmedAt: seen.confirmedAt ?? null,
      metadata: metadata(),
    })
    expect(late).toEqual({ _tag: "VersionConflict", expected: 1, actual: 1 })
    expect(await store.readStream("vs_c3")).toHaveLength(1)
    await expect(
      store.appendToStream("vs_c3", failed, {
        expectedVersion: 1,
        expectedConfirmedAt: -1,
        metadata: metadata(),
      }),
    ).rejects.toMatchObject({ _tag: "InvalidArgument", argument: "expectedConfirmedAt" })
  })

  it("a rebuild keeps confirmed_at, and a recreated row derives it from the authoritative events", async () => {
    await store.handle("vs_c4", read("vs_c4", "processing", T), { actor })
    await store.handle("vs_c4", observation(snapshot("vs_c4", "verified"), T + 20, "webhook", "evt_c4"), {
      actor,
    })
    await store.handle("vs_c4", read("vs_c4", "verified", T + 30), { actor })
    await store.rebuild("verification_sessions")
    expect((await confirmedColumn(store, "vs_c4"))?.confirmed_at).toBe(String(T + 30))
    await sql`delete from ${sql.raw(`"${store.schema}"`)}.verification_sessions where session_id = 'vs_c4'`.execute(
      dbOf(store),
    )
    await store.rebuild("verification_sessions")
    expect((await confirmedColumn(store, "vs_c4"))?.confirmed_at).toBe(String(T)) // the lower bound
    expect((await store.state("vs_c4")).confirmedAt).toBe(T)
  })
})

describe.skipIf(!process.env.DATABASE_URL)("confirmedAt under concurrency (real Postgres)", () => {
  let store: Awaited<ReturnType<typeof openTestStore>>
  beforeAll(async () => {
    store = await openTestStore(process.env.DATABASE_URL, { poolSize: 20 })
  })
  afterAll(async () => {
    await store?.dispose()
  })

  it("200 sessions x 6 contradictory reads handled concurrently end at the newest read's status", async () => {
    const next = random(10)
    const ids = Array.from({ length: 200 }, (_, i) => `vs_cc${String(i).padStart(3, "0")}`)
    await Promise.all(ids.map((id) => store.handle(id, read(id, "requires_input", T), { actor })))
    const reads = ids.map((id) => ({
      id,
      reads: Array.from({ length: 6 }, (_, k) => ({
        status: statuses[Math.floor(next() * statuses.length)]!,
        at: T + 1 + k,
      })),
    }))
    const all = shuffled(
      reads.flatMap(({ id, reads }) => reads.map((r) => ({ id, ...r }))),
      next,
    )
    await Promise.all(
      all.map((r) => store.handle(r.id, read(r.id, r.status, r.at), { actor }, { maxRetries: 20 })),
    )
    const wrongStatus: Array<string> = []
    const wrongConfirmed: Array<string> = []
    for (const { id, reads: rs } of reads) {
      const state = await store.state(id)
      const newest = rs[rs.length - 1]!
      if (state.facts?.status !== newest.status)
        wrongStatus.push(`${id}: ${state.facts?.status}, newest read ${newest.status} @${newest.at}`)
      if (state.confirmedAt !== newest.at) wrongConfirmed.push(`${id}: confirmed @${state.confirmedAt}`)
    }
    expect(wrongStatus).toEqual([])
    expect(wrongConfirmed).toEqual([])
  }, 60_000)
})
