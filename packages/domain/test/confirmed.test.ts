/**
 * `confirmedAt`, the newest authoritative read handled: a read that changes nothing still makes
 * every older observation stale (issue 10, item 6). Handled one at a time through `decideAndFold`
 * and the confirm step, as the store does.
 */

import { Result } from "effect"
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { confirm, decideAndFold, initialState, type SessionCommand, type SessionState } from "../src/index.ts"
import { apiRead, session, webhook } from "./support/sessions.ts"

const MANY_RUNS = { numRuns: 1_000 }

const statuses = ["requires_input", "processing", "verified", "canceled"] as const
type Status = (typeof statuses)[number]

const snapshotAt = (status: Status) =>
  session({
    status,
    last_error:
      status === "requires_input" ? { code: "document_unverified_other", reason: "unreadable" } : null,
  })

/** Handles one command as the store does: decide and fold, then the confirm step. */
const handled = (state: SessionState, command: SessionCommand) => {
  const decided = Result.getOrThrow(decideAndFold(command, state))
  return { events: decided.events, state: confirm(command, decided.state) }
}

const start = handled(initialState, apiRead(snapshotAt("requires_input"), 1_000)).state

/** Observations at distinct times after the start: reads (authoritative) and webhooks, any status. */
const observationsArb = fc
  .uniqueArray(fc.integer({ min: 1_001, max: 1_060 }), { minLength: 2, maxLength: 8 })
  .chain((times) =>
    fc.tuple(
      fc.tuple(
        ...times.map((at) =>
          fc.record({ at: fc.constant(at), status: fc.constantFrom(...statuses), read: fc.boolean() }),
        ),
      ),
      fc.shuffledSubarray(
        times.map((_, i) => i),
        { minLength: times.length, maxLength: times.length },
      ),
    ),
  )

const commandOf = (o: { at: number; status: Status; read: boolean }): SessionCommand =>
  o.read ? apiRead(snapshotAt(o.status), o.at) : webhook(snapshotAt(o.status), o.at)

describe("confirmedAt: the newest authoritative read handled", () => {
  it("law: an authoritative read older than the newest authoritative read handled never changes the record, under any interleaving (1,000 runs)", () => {
    fc.assert(
      fc.property(observationsArb, ([observations, order]) => {
        let state = start
        let newestRead = 1_000
        for (const i of order) {
          const o = observations[i]!
          const next = handled(state, commandOf(o))
          if (o.read && o.at < newestRead) {
            expect(next.events).toEqual([])
            expect(next.state).toEqual(state)
          }
          if (o.read) newestRead = Math.max(newestRead, o.at)
          expect(next.state.confirmedAt).toBe(newestRead)
          state = next.state
        }
      }),
      MANY_RUNS,
    )
  })

  it("law: reads handled in any order end at the newest read's status (1,000 runs)", () => {
    fc.assert(
      fc.property(observationsArb, ([observations, order]) => {
        let state = start
        for (const i of order)
          state = handled(state, apiRead(snapshotAt(observations[i]!.status), observations[i]!.at)).state
        const newest = observations.reduce((a, b) => (b.at > a.at ? b : a))
        expect(state.facts?.status).toBe(newest.status)
      }),
      MANY_RUNS,
    )
  })

  it("the issue's case: processing read at T+10, then requires_input read at T+5, ends processing", () => {
    const confirmed = handled(
      handled(start, apiRead(snapshotAt("processing"), 1_000)).state,
      apiRead(snapshotAt("processing"), 1_010),
    )
    expect(confirmed.events).toEqual([])
    expect(confirmed.state.confirmedAt).toBe(1_010)
    const late = handled(confirmed.state, apiRead(snapshotAt("requires_input"), 1_005))
    expect(late.events).toEqual([])
    expect(late.state.facts?.status).toBe("processing")
  })

  it("a webhook older than the newest read is stale; in its second, processing ⇄ requires_input asks for a refresh", () => {
    const changed = handled(start, apiRead(snapshotAt("processing"), 1_005)).state
    const confirmed = handled(changed, apiRead(snapshotAt("processing"), 1_010)).state
    expect(confirmed).toMatchObject({ lastChangeAt: 1_005, confirmedAt: 1_010 })
    expect(handled(confirmed, webhook(snapshotAt("requires_input"), 1_009)).events).toEqual([])
    expect(
      handled(confirmed, webhook(snapshotAt("requires_input"), 1_010)).events.map((e) => e._tag),
    ).toEqual(["RefreshNeeded"])
    expect(handled(confirmed, webhook(snapshotAt("verified"), 1_010)).events.map((e) => e._tag)).toEqual([
      "SessionVerified",
    ])
  })

  it("only authoritative reads confirm; the fold carries confirmedAt over and never derives it", () => {
    expect(start.confirmedAt).toBe(1_000)
    const afterWebhook = handled(start, webhook(snapshotAt("processing"), 1_020)).state
    expect(afterWebhook.confirmedAt).toBe(1_000)
    expect(afterWebhook.facts?.status).toBe("processing")
    expect(confirm(apiRead(snapshotAt("processing"), 990), afterWebhook)).toBe(afterWebhook)
  })
})
