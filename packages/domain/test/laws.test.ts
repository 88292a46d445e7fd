/**
 * The laws the decider obeys over generated legal Stripe histories and generated webhook
 * deliveries (any subset, duplicates, any order). Each law is stated in its test's title.
 */
import { fc, test } from "@fast-check/vitest"
import { Result, Schema } from "effect"
import { describe, expect } from "vitest"
import {
  decide,
  evolve,
  factsOf,
  fold,
  initialState,
  isRedacted,
  type Observe,
  type SessionEvent,
  SessionState,
  statusEnteredBy,
  transitions,
} from "../src/index.ts"
import { deliveredHistoryArb, expanded, historyArb, type Moment } from "./support/stripe-model.ts"

const RUNS = { numRuns: 300 }

const asWebhook = (m: Moment): Observe => ({
  _tag: "Observe",
  session: m.snapshot,
  source: "webhook",
  observedAt: m.at,
  stripeEventId: m.eventId,
  ...(m.eventType === null ? {} : { stripeEventType: m.eventType }),
})
const asRead = (m: Moment, n = 0): Observe => ({
  _tag: "Observe",
  session: expanded(m.snapshot, n),
  source: n % 2 === 0 ? "api" : "reconciler",
  observedAt: m.at,
})

/** Runs observations through decide/evolve, as the store will; observations never fail. */
const observeAll = (observations: ReadonlyArray<Observe>, start: SessionState = initialState) => {
  let state = start
  const events: Array<SessionEvent> = []
  for (const observation of observations) {
    const decided = Result.getOrThrow(decide(observation, state))
    events.push(...decided)
    state = fold(decided, state)
  }
  return { state, events }
}

/** The statuses a history of events moves the session through, in order. */
const statusPath = (events: ReadonlyArray<SessionEvent>): Array<string> =>
  events.flatMap((event) => statusEnteredBy(event) ?? [])

const isEdge = (from: string, to: string) => transitions.some((t) => t.from === from && t.to === to)

describe("laws of the decider", () => {
  test.prop([deliveredHistoryArb()], RUNS)(
    "1. the statuses recorded from webhooks, in any subset, order and multiplicity, form a legal path that Stripe really took",
    ({ history, delivered }) => {
      const { events } = observeAll(delivered.map(asWebhook))
      expect(events.filter((e) => e._tag === "SessionResynced")).toEqual([])
      const path = statusPath(events)
      for (let i = 1; i < path.length; i++) expect(isEdge(path[i - 1]!, path[i]!)).toBe(true)
      // Really taken: every recorded status occurs in Stripe's own sequence, in Stripe's order.
      const stripePath = history.moments.map((m) => m.snapshot.status)
      let cursor = 0
      for (const status of path) {
        while (cursor < stripePath.length && stripePath[cursor] !== status) cursor++
        expect(cursor, `${path.join(" → ")} is not a subsequence of ${stripePath.join(" → ")}`).toBeLessThan(
          stripePath.length,
        )
        cursor++
      }
    },
  )

  test.prop([deliveredHistoryArb()], RUNS)(
    "1b. after any delivery, the state shows the newest delivered webhook's status and redaction, or asks for a refresh",
    ({ history, delivered }) => {
      const { state } = observeAll(delivered.map(asWebhook))
      const newest = history.webhooks.findLast((m) => delivered.includes(m))
      if (newest === undefined) {
        expect(state).toEqual(initialState)
        return
      }
      if (state.needsRefresh) return
      expect(state.facts?.status).toBe(newest.snapshot.status)
      expect(state.facts?.redactionStatus).toBe(newest.snapshot.redaction?.status ?? null)
      expect(state.facts?.metadata).toEqual(newest.snapshot.metadata)
    },
  )

  test.prop([deliveredHistoryArb()], RUNS)(
    "2. after any delivery plus one authoritative read of the final object, the state equals that object",
    ({ history, delivered }) => {
      const { state } = observeAll([...delivered.map(asWebhook), asRead(history.final)])
      const expected = factsOf(history.final.snapshot)
      expect(state.facts).not.toBeNull()
      const facts = state.facts!
      expect(facts.status).toBe(expected.status)
      expect(facts.lastError?.code ?? null).toBe(expected.lastError?.code ?? null)
      expect(facts.redactionStatus).toBe(expected.redactionStatus)
      expect(facts.metadata).toEqual(expected.metadata)
      expect(facts.type).toBe(expected.type)
      expect(facts.options).toEqual(expected.options)
      expect(state.needsRefresh).toBe(false)
    },
  )

  test.prop([historyArb({ distinctSeconds: true })], RUNS)(
    "3. webhooks delivered exactly in order with distinct seconds give Stripe's transitions one for one, with no read",
    (history) => {
      const { events } = observeAll(history.webhooks.map(asWebhook))
      const stripeStatuses = history.webhooks
        .map((m) => m.snapshot.status)
        .filter((status, i, all) => i === 0 || all[i - 1] !== status)
      expect(statusPath(events)).toEqual(stripeStatuses)
      expect(events.filter((e) => e._tag === "RefreshNeeded" || e._tag === "SessionResynced")).toEqual([])
    },
  )

  test.prop([deliveredHistoryArb(), fc.nat(), fc.boolean()], RUNS)(
    "4. observing the same snapshot twice emits nothing the second time",
    ({ history, delivered }, pick, authoritative) => {
      const { state } = observeAll(delivered.map(asWebhook))
      const moment = history.moments[pick % history.moments.length]!
      const observation = authoritative ? asRead(moment, pick) : asWebhook(moment)
      const once = observeAll([observation], state)
      expect(Result.getOrThrow(decide(observation, once.state))).toEqual([])
    },
  )

  test.prop([deliveredHistoryArb(), fc.array(fc.nat(), { maxLength: 6 })], RUNS)(
    "5. no event ever carries a secret or a personal value from its input",
    ({ history, delivered }, reads) => {
      const observations = [
        ...delivered.map(asWebhook),
        ...reads.map((r) => asRead(history.moments[r % history.moments.length]!, r)),
      ]
      const { events } = observeAll(observations)
      const serialized = JSON.stringify(events)
      expect(serialized).not.toMatch(/SECRET-|PII-/)
    },
  )

  test.prop([deliveredHistoryArb(), fc.array(fc.tuple(fc.nat(), fc.boolean()), { maxLength: 10 })], RUNS)(
    "6. once redacted, a session is never un-redacted and no later event re-adds personal data",
    ({ history, delivered }, extra) => {
      // Old payloads (expanded reads with personal data, stale webhooks) keep arriving afterwards.
      const observations = [
        ...delivered.map(asWebhook),
        asRead(history.final),
        ...extra.map(([i, read]) => {
          const m = history.moments[i % history.moments.length]!
          return read ? asRead(m, i) : asWebhook(m)
        }),
      ]
      const { events } = observeAll(observations)
      let state = initialState
      let redacted = false
      for (const event of events) {
        state = evolve(state, event)
        const now = isRedacted(state.facts?.redactionStatus ?? null)
        if (redacted) {
          expect(now).toBe(true)
          expect(event._tag).not.toBe("VerifiedOutputsCaptured")
          expect(state.capturedOutputs).toEqual([])
          if (event._tag === "SessionUpdated") {
            for (const change of event.changes) {
              if (change.field === "metadata") expect(change.to).toEqual({})
            }
          }
        }
        redacted = now
      }
    },
  )

  test.prop([deliveredHistoryArb(), fc.nat()], RUNS)(
    "7. folding events in chunks equals folding them at once",
    ({ history, delivered }, cut) => {
      const { events } = observeAll([...delivered.map(asWebhook), asRead(history.final)])
      const at = events.length === 0 ? 0 : cut % (events.length + 1)
      expect(fold(events.slice(at), fold(events.slice(0, at)))).toEqual(fold(events))
    },
  )

  test.prop([deliveredHistoryArb()], RUNS)(
    "7b. a folded state survives a trip through JSON (as the store's projection keeps it) unchanged",
    ({ history, delivered }) => {
      const { state } = observeAll([...delivered.map(asWebhook), asRead(history.final)])
      const stored = JSON.parse(JSON.stringify(Schema.encodeSync(SessionState)(state)))
      expect(Schema.decodeUnknownSync(SessionState)(stored)).toEqual(state)
    },
  )
})
