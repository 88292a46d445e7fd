/**
 * The lean one-event appends (migration 0012): a new stream's first event and a batch's one-event
 * appends send the session row's columns as parameters, with no nested call on the way. The rows
 * they write must be the rows the SQL side projects, and the log must still have the last word
 * over a missing row.
 */
import type { SessionEvent } from "@idtrail/domain"
import { sql } from "kysely"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { backends, dbOf, metadata, openTestStore } from "./fixtures.ts"

const started = (sessionId: string, at: number): SessionEvent => ({
  _tag: "SessionStarted",
  sessionId,
  at,
  source: "webhook",
  stripeEventType: "identity.verification_session.created",
  midLife: false,
  facts: {
    status: "requires_input",
    type: "document",
    livemode: false,
    created: at,
    clientReferenceId: `user_${sessionId}`,
    metadata: { order: sessionId },
    options: { document: { allowed_types: ["passport"] } },
    lastError: { code: "document_expired", reason: null },
    lastVerificationReport: null,
    redactionStatus: null,
    relatedCustomer: null,
    relatedCustomerAccount: null,
    relatedPerson: null,
    verificationFlow: null,
  },
})
const submitted = (sessionId: string, at: number): SessionEvent => ({
  _tag: "SessionSubmitted",
  sessionId,
  at,
})

describe.each(backends)("lean one-event appends on $name", ({ databaseUrl }) => {
  let store: Awaited<ReturnType<typeof openTestStore>>
  beforeAll(async () => {
    store = await openTestStore(databaseUrl)
  })
  afterAll(async () => {
    await store?.dispose()
  })
  const table = (name: string) => sql.raw(`"${store.schema}".${name}`)
  const rows = async (streams: ReadonlyArray<string>) =>
    (
      await sql`select session_id, status, redaction_status, last_error_code, type, livemode, created, metadata,
                       version, needs_refresh, last_change_at, state, confirmed_at
                  from ${table("verification_sessions")} where session_id = any(${streams}) order by session_id`.execute(
        dbOf(store),
      )
    ).rows
  const append = (stream: string, events: ReadonlyArray<SessionEvent>, expectedVersion: number) =>
    store.appendToStream(stream, events, {
      expectedVersion,
      stripeEventId: `evt_${stream}_${expectedVersion}`,
      metadata: metadata({ stripeEventId: `evt_${stream}_${expectedVersion}`, observedAt: 1_760_000_100 }),
    })

  it("new streams' first events, alone and grouped, write the rows a rebuild projects, column by column", async () => {
    const alone = "vs_la_alone"
    expect((await append(alone, [started(alone, 1_760_000_000)], 0))._tag).toBe("Appended")
    await append("vs_la_old", [started("vs_la_old", 1_760_000_000)], 0)
    const fresh = Array.from({ length: 12 }, (_, i) => `vs_la_${String(i).padStart(2, "0")}`)
    const results = await Promise.all([
      ...fresh.map((s, i) => append(s, [started(s, 1_760_000_000 + i)], 0)),
      append("vs_la_old", [submitted("vs_la_old", 1_760_000_050)], 1),
    ])
    expect(results.map((r) => r._tag)).toEqual(Array(13).fill("Appended"))
    const streams = [alone, "vs_la_old", ...fresh]
    const transactions = await sql<{ n: string }>`select count(distinct transaction_id) as n
      from ${table("events")} where stream_id = any(${fresh})`.execute(dbOf(store))
    // The grouped appends did go through a batch.
    expect(Number(transactions.rows[0]!.n)).toBeLessThan(fresh.length)
    const written = await rows(streams)
    expect(written).toHaveLength(streams.length)
    expect(written.find((r) => (r as { session_id: string }).session_id === alone)).toMatchObject({
      status: "requires_input",
      last_error_code: "document_expired",
      type: "document",
      livemode: false,
      metadata: { order: alone },
      version: "1",
    })
    await store.rebuild("verification_sessions")
    expect(await rows(streams)).toEqual(written)
  })

  it("a new stream's first append, alone or grouped, when the log has the stream but its row was deleted: a conflict at the log's version, nothing written", async () => {
    for (const [stream, grouped] of [
      ["vs_la_gone_alone", false],
      ["vs_la_gone_grouped", true],
    ] as const) {
      await append(stream, [started(stream, 1_760_000_000)], 0)
      await append(stream, [submitted(stream, 1_760_000_010)], 1)
      await sql`delete from ${table("verification_sessions")} where session_id = ${stream}`.execute(
        dbOf(store),
      )
      const others = grouped ? ["a", "b", "c"].map((k) => `${stream}_${k}`) : []
      const [result, ...rest] = await Promise.all([
        store.appendToStream(stream, [started(stream, 1_760_000_020)], {
          expectedVersion: 0,
          metadata: metadata(),
        }),
        ...others.map((s) => append(s, [started(s, 1_760_000_000)], 0)),
      ])
      expect(result).toEqual({ _tag: "VersionConflict", expected: 0, actual: 2 })
      expect(rest.map((r) => r._tag)).toEqual(others.map(() => "Appended"))
      expect(await rows([stream])).toEqual([])
      const events = await sql<{ v: string }>`select stream_version as v from ${table("events")}
        where stream_id = ${stream} order by stream_version`.execute(dbOf(store))
      expect(events.rows.map((r) => Number(r.v))).toEqual([1, 2])
    }
  })
})
