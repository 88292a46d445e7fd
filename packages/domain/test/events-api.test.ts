/**
 * The `events_api` source: Stripe's past snapshots (an event's `data.object`), replayed by the
 * reconciler in Stripe's order. Laws over generated histories; each law is stated in its title.
 */
import { fc, test } from "@fast-check/vitest"
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { decide, fold, initialState, type Observe, type SessionEvent, statusEnteredBy } from "../src/index.ts"
import { session } from "./support/sessions.ts"
import { expanded, historyArb, type Moment } from "./support/stripe-model.ts"

const RUNS = { numRuns: 300 }

const from =
  (source: "webhook" | "events_api") =>
  (m: Moment): Observe => ({
    _tag: "Observe",
    session: m.snapshot,
    source,
    observedAt: m.at,
    stripeEventId: m.eventId,
    ...(m.eventType === null ? {} : { stripeEventType: m.eventType }),
  })
const asReplay = from("events_api")
const asWebhook = from("webhook")

/**
 * Runs observations as the store does: an observation whose Stripe event id already recorded
 * events is a duplicate (the store's unique index), and changes nothing.
 */
const record = (observations: ReadonlyArray<Observe>) => {
  let state = initialState
  const events: Array<SessionEvent> = []
  const recorded = new Set<string>()
  for (const o of observations) {
    if (o.stripeEventId !== undefined && recorded.has(o.stripeEventId)) continue
    const decided = Result.getOrThrow(decide(o, state))
    if (decided.length > 0 && o.stripeEventId !== undefined) recorded.add(o.stripeEventId)
    events.push(...decided)
    state = fold(decided, state)
  }
  return { state, events }
}

/** What an auditor compares: the statuses entered, with each failure's code and reason. */
const recordedSteps = (events: ReadonlyArray<SessionEvent>) =>
  events.flatMap((e) => {
    const status = statusEnteredBy(e)
    if (status === undefined) return []
    return e._tag === "VerificationFailed" ? [`${status}(${e.code},${e.reason})`] : [status]
  })

/** The same, from Stripe's events. */
const stripeSteps = (webhooks: ReadonlyArray<Moment>) =>
  webhooks
    .filter((m, i) => i === 0 || webhooks[i - 1]!.snapshot.status !== m.snapshot.status)
    .map((m) =>
      m.snapshot.status === "requires_input" && m.snapshot.last_error !== null
        ? `requires_input(${m.snapshot.last_error.code},${m.snapshot.last_error.reason})`
        : m.snapshot.status,
    )

describe("the Events API's snapshots (source events_api)", () => {
  test.prop([historyArb()], RUNS)(
    "replayed in Stripe's order, same seconds included, they record Stripe's statuses, failure codes and reasons one for one, with no refresh (300 runs)",
    (history) => {
      const { events } = record(history.webhooks.map(asReplay))
      expect(recordedSteps(events)).toEqual(stripeSteps(history.webhooks))
      expect(events.filter((e) => e._tag === "RefreshNeeded" || e._tag === "SessionResynced")).toEqual([])
    },
  )

  test.prop(
    [
      historyArb({ distinctSeconds: true }).chain((h) =>
        fc.record({ history: fc.constant(h), up: fc.nat(h.webhooks.length), twice: fc.boolean() }),
      ),
    ],
    RUNS,
  )(
    "after webhooks lost from any point on (an outage; delivered ones in order, maybe twice), replaying every event then one read records Stripe's sequence exactly, and the read repairs nothing (300 runs)",
    ({ history, up, twice }) => {
      const delivered = history.webhooks.slice(0, up).flatMap((m) => (twice ? [m, m] : [m]))
      const replay = history.webhooks.map(asReplay)
      const read: Observe = {
        _tag: "Observe",
        session: expanded(history.final.snapshot, 0),
        source: "reconciler",
        observedAt: history.final.at,
      }
      const { events } = record([...delivered.map(asWebhook), ...replay])
      expect(recordedSteps(events)).toEqual(stripeSteps(history.webhooks))
      const after = record([...delivered.map(asWebhook), ...replay, read]).events.slice(events.length)
      expect(after.filter((e) => statusEnteredBy(e) !== undefined)).toEqual([])
    },
  )

  it("two in one second are not ambiguous, unlike two webhooks: the later one in Stripe's order wins", () => {
    const created = session({ status: "requires_input" })
    const processing = session({ status: "processing" })
    const failed = session({
      status: "requires_input",
      last_error: { code: "document_expired", reason: "expired" },
    })
    const at = created.created + 10
    const observe = (source: "webhook" | "events_api") =>
      record([
        {
          _tag: "Observe",
          session: created,
          source,
          observedAt: created.created,
          stripeEventId: `${source}_1`,
        },
        { _tag: "Observe", session: processing, source, observedAt: at, stripeEventId: `${source}_2` },
        { _tag: "Observe", session: failed, source, observedAt: at, stripeEventId: `${source}_3` },
      ]).events.map((e) => e._tag)
    expect(observe("events_api")).toEqual(["SessionStarted", "SessionSubmitted", "VerificationFailed"])
    expect(observe("webhook")).toEqual(["SessionStarted", "SessionSubmitted", "RefreshNeeded"])
  })

  it("they are not authoritative: one older than the last change is stale", () => {
    const processing = session({ status: "processing" })
    const earlier = session({ status: "requires_input" })
    const { events } = record([
      { _tag: "Observe", session: processing, source: "reconciler", observedAt: processing.created + 20 },
      { _tag: "Observe", session: earlier, source: "events_api", observedAt: processing.created + 10 },
    ])
    expect(events.map((e) => e._tag)).toEqual(["SessionStarted"])
  })
})
