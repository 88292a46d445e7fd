/**
 * Late steps (issue 12's gap): a step whose webhook arrives after a later step, or whose Events
 * API snapshot is older than the last change, is still recorded, once, where it happened.
 * Laws over generated histories and deliveries, each stated in its title; then one example per
 * case.
 */
import { fc, test } from "@fast-check/vitest"
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import {
  decide,
  erasedValue,
  fold,
  initialState,
  type Observe,
  type SessionEvent,
  type SessionState,
  stepAt,
  stepsInStripeOrder,
} from "../src/index.ts"
import { SESSION_ID, session } from "./support/sessions.ts"
import { expanded, type History, historyArb, type Moment } from "./support/stripe-model.ts"

const RUNS = { numRuns: 1_000 }

const observe =
  (source: "webhook" | "events_api") =>
  (m: Moment): Observe => ({
    _tag: "Observe",
    session: m.snapshot,
    source,
    observedAt: m.at,
    stripeEventId: m.eventId,
    ...(m.eventType === null ? {} : { stripeEventType: m.eventType }),
  })
const asWebhook = observe("webhook")
const asReplay = observe("events_api")
const readOf = (history: History): Observe => ({
  _tag: "Observe",
  session: expanded(history.final.snapshot, 0),
  source: "reconciler",
  observedAt: history.final.at,
})

/**
 * Runs observations as the store does: an observation whose Stripe event id already recorded
 * events is a duplicate (the store's unique index) and changes nothing; `dedupe: false` turns
 * that off, to see what the decider alone does.
 */
const record = (observations: ReadonlyArray<Observe>, { dedupe = true } = {}) => {
  let state: SessionState = initialState
  const events: Array<SessionEvent> = []
  const recorded = new Set<string>()
  for (const o of observations) {
    if (dedupe && o.stripeEventId !== undefined && recorded.has(o.stripeEventId)) continue
    const decided = Result.getOrThrow(decide(o, state))
    if (decided.length > 0 && o.stripeEventId !== undefined) recorded.add(o.stripeEventId)
    events.push(...decided)
    state = fold(decided, state)
  }
  return { state, events }
}

const failure = (code: string | null | undefined, reason: string | null | undefined) =>
  `requires_input(${code ?? null},${reason ?? null})`

/** What an auditor compares: the steps in Stripe's order, each failure with its code and reason. */
const recordedSteps = (events: ReadonlyArray<SessionEvent>) =>
  stepsInStripeOrder(events).map(({ status, event }) => {
    if (event._tag === "VerificationFailed") return failure(event.code, event.reason)
    if (event._tag === "SessionStarted" && status === "requires_input" && event.facts.lastError !== null)
      return failure(event.facts.lastError.code, event.facts.lastError.reason)
    return status
  })

/** The same, from Stripe's events (in Stripe's order). */
const stripeSteps = (webhooks: ReadonlyArray<Moment>) =>
  webhooks
    .filter((m, i) => i === 0 || webhooks[i - 1]!.snapshot.status !== m.snapshot.status)
    .map((m) =>
      m.snapshot.status === "requires_input" && m.snapshot.last_error !== null
        ? failure(m.snapshot.last_error.code, m.snapshot.last_error.reason)
        : m.snapshot.status,
    )

/**
 * Stripe's steps as the record can hold them: a failure's reason that arrived after the redaction
 * began is recorded erased (the redaction took it), so there only its code is compared.
 */
const asRecordable = (recorded: ReadonlyArray<string>, stripe: ReadonlyArray<string>) =>
  stripe.map((step, i) => {
    const mine = recorded[i]
    return mine?.endsWith(`,${erasedValue})`) && step.startsWith(mine.slice(0, mine.lastIndexOf(",") + 1))
      ? mine
      : step
  })

/** A history and a delivery of every webhook at least once (Stripe retries), some twice, in any order. */
const retriedDeliveryArb = (options: { distinctSeconds?: boolean } = {}) =>
  historyArb(options).chain((history) =>
    fc.array(fc.nat(history.webhooks.length - 1), { maxLength: history.webhooks.length }).chain((extra) => {
      const all = [...history.webhooks, ...extra.map((i) => history.webhooks[i]!)]
      return fc
        .shuffledSubarray(all, { minLength: all.length, maxLength: all.length })
        .map((delivered) => ({ history, delivered }))
    }),
  )

/** A history and a lossy delivery: any subset, some twice, in any order. */
const lossyDeliveryArb = (options: { distinctSeconds?: boolean } = {}) =>
  historyArb(options).chain((history) =>
    fc
      .array(fc.nat(history.webhooks.length - 1), { maxLength: history.webhooks.length * 2 + 2 })
      .map((order) => ({ history, delivered: order.map((i) => history.webhooks[i]!) })),
  )

const isLate = (e: SessionEvent) => "late" in e && e.late === true

describe("late steps: laws", () => {
  test.prop([retriedDeliveryArb({ distinctSeconds: true })], RUNS)(
    "for any Stripe history (steps in distinct seconds) and any duplicating, reordering delivery in which every webhook arrives at least once (lost attempts retried late), followed by an authoritative read, the recorded sequence of steps (status, failure code, reason) ordered by Stripe time equals Stripe's (1,000 runs)",
    ({ history, delivered }) => {
      const { events } = record([...delivered.map(asWebhook), readOf(history)])
      const recorded = recordedSteps(events)
      expect(recorded).toEqual(asRecordable(recorded, stripeSteps(history.webhooks)))
    },
  )

  test.prop([lossyDeliveryArb({ distinctSeconds: true })], RUNS)(
    "for any Stripe history (steps in distinct seconds) and any lossy, duplicating, reordering delivery followed by the Events API's replay and an authoritative read, the recorded sequence of steps (status, failure code, reason) ordered by Stripe time equals Stripe's (1,000 runs)",
    ({ history, delivered }) => {
      const { events } = record([
        ...delivered.map(asWebhook),
        ...history.webhooks.map(asReplay),
        readOf(history),
      ])
      const recorded = recordedSteps(events)
      expect(recorded).toEqual(asRecordable(recorded, stripeSteps(history.webhooks)))
    },
  )

  test.prop([lossyDeliveryArb()], RUNS)(
    "a late step never changes the present: the state after any delivery equals the state of the same events without the late ones, but for its version and timeline (1,000 runs)",
    ({ history, delivered }) => {
      const { events, state } = record([...delivered.map(asWebhook), ...history.webhooks.map(asReplay)])
      const present = fold(events.filter((e) => !isLate(e)))
      expect({ ...state, version: 0, timeline: null }).toEqual({ ...present, version: 0, timeline: null })
    },
  )

  test.prop([lossyDeliveryArb({ distinctSeconds: true })], RUNS)(
    "replaying the Events API again records nothing, even without the store's event-id dedupe: the timeline knows every step (1,000 runs)",
    ({ history, delivered }) => {
      const observations = [...delivered.map(asWebhook), ...history.webhooks.map(asReplay), readOf(history)]
      const once = record(observations, { dedupe: false })
      const twice = record([...observations, ...history.webhooks.map(asReplay)], { dedupe: false })
      expect(twice.events).toEqual(once.events)
    },
  )
})

describe("late steps: cases", () => {
  const created = session()
  const processing = session({ status: "processing", client_secret: null, url: null })
  const failed = session({
    last_error: { code: "document_expired", reason: "The document is expired." },
    last_verification_report: "vr_1",
  })
  const verified = session({ status: "verified", last_verification_report: "vr_2" })
  const moment = (snapshot: typeof created, at: number, type: string): Moment => ({
    at,
    snapshot,
    eventType: `identity.verification_session.${type}`,
    eventId: `evt_${type}_${at}`,
  })
  // Stripe: created 100 → processing 110 → requires_input (failed) 120 → processing 130 → verified 140.
  const stripe = [
    moment(created, 100, "created"),
    moment(processing, 110, "processing"),
    moment(failed, 120, "requires_input"),
    moment(processing, 130, "processing"),
    moment(verified, 140, "verified"),
  ]
  const expected = [
    "requires_input",
    "processing",
    failure("document_expired", "The document is expired."),
    "processing",
    "verified",
  ]

  it("the issue's example: the failure's webhook, lost first, retried after the verification arrived, is recorded where it happened", () => {
    const [c, p1, f, p2, v] = stripe.map(asWebhook)
    const { events, state } = record([c!, p1!, p2!, v!, f!])
    expect(events.at(-1)).toMatchObject({
      _tag: "VerificationFailed",
      late: true,
      at: 120,
      code: "document_expired",
    })
    expect(state.facts?.status).toBe("verified")
    expect(recordedSteps(events)).toEqual(expected)
  })

  it("an Events API replay after the later steps were recorded fills in the lost ones, late, without repeating the others", () => {
    const [c, , , p2, v] = stripe.map(asWebhook)
    const { events } = record([c!, p2!, v!, ...stripe.map(asReplay)])
    expect(events.filter(isLate).map((e) => [e._tag, e.at])).toEqual([
      ["SessionSubmitted", 110],
      ["VerificationFailed", 120],
    ])
    expect(recordedSteps(events)).toEqual(expected)
  })

  it("a step filled in by a read is replaced by its real step, arriving late, instead of appearing twice", () => {
    const read: Observe = { _tag: "Observe", session: verified, source: "reconciler", observedAt: 150 }
    const [c, p1, f, p2, v] = stripe.map(asWebhook)
    const { events } = record([c!, p1!, f!, read, p2!, v!])
    // The read at 150 filled in processing and verified; their webhooks, late, replace them.
    expect(
      events.filter(isLate).map((e) => [e._tag, e.at, "confirms" in e ? e.confirms : undefined]),
    ).toEqual([
      ["SessionSubmitted", 130, 150],
      ["SessionVerified", 140, 150],
    ])
    expect(recordedSteps(events)).toEqual(expected)
    expect(stepsInStripeOrder(events).map((s) => s.at)).toEqual([100, 110, 120, 130, 140])
  })

  it("the step a session was in at a Stripe time counts late steps: after the late failure at 120, 125 was requires_input", () => {
    const [c, p1, f, p2, v] = stripe.map(asWebhook)
    const { events } = record([c!, p1!, p2!, v!, f!])
    expect(stepAt(events, 125)?.status).toBe("requires_input")
    expect(stepAt(events, 125)?.event).toMatchObject({ _tag: "VerificationFailed", late: true })
    expect(stepAt(events, 135)?.status).toBe("processing")
    expect(stepAt(events, 99)).toBeUndefined()
  })

  it("a late creation after first knowledge mid-life is recorded as a late SessionStarted, before everything", () => {
    const [c, p1, f, p2, v] = stripe.map(asWebhook)
    const { events, state } = record([p1!, f!, p2!, v!, c!])
    expect(events.at(-1)).toMatchObject({ _tag: "SessionStarted", late: true, at: 100, midLife: false })
    expect(state.facts?.status).toBe("verified")
    expect(state.sessionId).toBe(SESSION_ID)
    expect(recordedSteps(events)).toEqual(expected)
  })

  it("a step older than the timeline reaches is left alone: nothing said about what the state cannot see", () => {
    // 40 failures and resubmissions, then the first failure's webhook arrives again, late.
    const many: Array<Moment> = [moment(created, 100, "created")]
    for (let k = 1; k <= 40; k++) {
      many.push({ ...moment(processing, 100 + 2 * k, "processing"), eventId: `evt_p_${k}` })
      many.push({ ...moment(failed, 101 + 2 * k, "requires_input"), eventId: `evt_f_${k}` })
    }
    const { state } = record(many.map(asWebhook))
    expect(state.timeline?.steps).toHaveLength(32)
    const lost = { ...moment(failed, 103, "requires_input"), eventId: "evt_other" }
    expect(Result.getOrThrow(decide(asWebhook(lost), state))).toEqual([])
  })
})
