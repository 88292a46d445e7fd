/**
 * The laws the decider obeys over generated legal Stripe histories and generated webhook
 * deliveries (any subset, duplicates, any order). Each law is stated in its test's title.
 */
import { fc, test } from "@fast-check/vitest"
import { Result, Schema } from "effect"
import { describe, expect } from "vitest"
import {
  decide,
  decideAndFold,
  evolve,
  factsOf,
  fold,
  initialState,
  isRedacted,
  looksLikeSecret,
  maskedValue,
  type Observe,
  type SessionCommand,
  type SessionEvent,
  SessionState,
  stepsInStripeOrder,
  transitions,
} from "../src/index.ts"
import { stringsIn } from "./support/sessions.ts"
import {
  createdSession,
  deliveredHistoryArb,
  expanded,
  historyArb,
  type Moment,
} from "./support/stripe-model.ts"

const RUNS = { numRuns: 300 }
const MANY_RUNS = { numRuns: 1_000 }

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

/** The statuses a history of events moves the session through, in Stripe's order (late steps where they happened). */
const statusPath = (events: ReadonlyArray<SessionEvent>): Array<string> =>
  stepsInStripeOrder(events).map((step) => step.status)

const isEdge = (from: string, to: string) => transitions.some((t) => t.from === from && t.to === to)

describe("laws of the decider", () => {
  test.prop([deliveredHistoryArb()], RUNS)(
    "1. the statuses recorded from webhooks, in any subset, order and multiplicity, are statuses Stripe took, and those recorded on time (not late) form a legal path",
    ({ history, delivered }) => {
      const { events } = observeAll(delivered.map(asWebhook))
      expect(events.filter((e) => e._tag === "SessionResynced")).toEqual([])
      const onTime = statusPath(events.filter((e) => !("late" in e && e.late === true)))
      for (let i = 1; i < onTime.length; i++) expect(isEdge(onTime[i - 1]!, onTime[i]!)).toBe(true)
      const taken = new Set(history.moments.map((m) => m.snapshot.status))
      for (const status of statusPath(events)) expect(taken.has(status)).toBe(true)
    },
  )

  test.prop([deliveredHistoryArb({ distinctSeconds: true })], RUNS)(
    "1c. with Stripe's steps in distinct seconds, the statuses recorded from webhooks, read in Stripe's order (late ones where they happened), are a subsequence of Stripe's (two steps of one second arriving out of order cannot be placed: see the README)",
    ({ history, delivered }) => {
      const { events } = observeAll(delivered.map(asWebhook))
      const path = statusPath(events)
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

  test.prop(
    [deliveredHistoryArb({ redactionWithChanges: true }), fc.nat(), fc.nat(), fc.nat({ max: 4 })],
    MANY_RUNS,
  )(
    "9. decideAndFold(c, s).state equals fold(decideAndFold(c, s).events, s), for observations and requests alike",
    ({ history, delivered }, cut, pick, kind) => {
      const { state } = observeAll(delivered.slice(0, cut % (delivered.length + 1)).map(asWebhook))
      const moment = history.moments[pick % history.moments.length]!
      const base = { sessionId: moment.snapshot.id, requestedAt: moment.at + 1 }
      const commands: ReadonlyArray<SessionCommand> = [
        asWebhook(moment),
        asRead(moment, pick),
        { _tag: "RequestCancel", ...base },
        { _tag: "RequestRedact", ...base },
        { _tag: "RequestUpdate", ...base, metadata: { step: String(pick) }, type: "id_number" },
      ]
      const command = commands[kind]!
      const decided = decideAndFold(command, state)
      expect(Result.map(decided, (d) => d.events)).toEqual(decide(command, state))
      if (Result.isSuccess(decided))
        expect(decided.success.state).toEqual(fold(decided.success.events, state))
    },
  )

  test.prop([deliveredHistoryArb({ redactionWithChanges: true })], MANY_RUNS)(
    "10. after any delivery of a history whose snapshots may combine a redaction with field changes, one authoritative read restores every fact Stripe has",
    ({ history, delivered }) => {
      const { state } = observeAll([...delivered.map(asWebhook), asRead(history.final)])
      expect(state.facts).toEqual(factsOf(history.final.snapshot))
      expect(state.needsRefresh).toBe(false)
    },
  )

  const secretShaped = fc.oneof(
    fc
      .tuple(fc.constantFrom("pi", "seti", "vs", "order"), fc.stringMatching(/^[A-Za-z0-9]{1,12}$/))
      .map(([prefix, id]) => `${prefix}_${id}_secret_${id}`),
    fc.stringMatching(/^[A-Za-z0-9]{1,12}$/).map((id) => `vs_${id}_secret_live_${id}`),
    fc
      .constantFrom("sk_live_", "sk_test_", "rk_live_", "rk_test_", "whsec_")
      .map((p) => `${p}4eC39HqLyjWDarjtT1`),
  )
  const merchantValue = fc.oneof(
    fc.string({ maxLength: 12 }),
    secretShaped,
    secretShaped.map((secret) => `ref ${secret} (copied)`),
  )

  test.prop(
    [
      fc.dictionary(fc.stringMatching(/^[a-z]{1,8}$/), merchantValue, { maxKeys: 5 }),
      fc.option(merchantValue, { nil: null }),
      fc.dictionary(fc.stringMatching(/^[a-z]{1,8}$/), merchantValue, { maxKeys: 5 }),
    ],
    MANY_RUNS,
  )(
    "5b. merchant values that look like secrets are masked, named in the event, and no event holds a secret-shaped string",
    (metadata, reference, laterMetadata) => {
      const first = { ...createdSession("vs_mask", 1_700_000_000, metadata), client_reference_id: reference }
      const later = { ...first, metadata: laterMetadata }
      const again: Observe = { _tag: "Observe", session: later, source: "webhook", observedAt: 1_700_000_002 }
      const { events, state } = observeAll([
        { _tag: "Observe", session: first, source: "webhook", observedAt: 1_700_000_000 },
        { _tag: "Observe", session: later, source: "api", observedAt: 1_700_000_001 },
      ])
      expect(stringsIn(events).filter(looksLikeSecret)).toEqual([])
      const secretKeys = (m: Record<string, string>) =>
        Object.keys(m)
          .filter((k) => looksLikeSecret(m[k]!))
          .map((k) => `metadata.${k}`)
      const started = events[0]
      expect(started?._tag === "SessionStarted" && (started.masked ?? [])).toEqual([
        ...(reference !== null && looksLikeSecret(reference) ? ["clientReferenceId"] : []),
        ...secretKeys(metadata),
      ])
      for (const [key, value] of Object.entries(laterMetadata))
        expect(state.facts?.metadata[key]).toBe(looksLikeSecret(value) ? maskedValue : value)
      // Stable: the same snapshot seen again changes nothing.
      expect(Result.getOrThrow(decide(again, state))).toEqual([])
    },
  )
})
