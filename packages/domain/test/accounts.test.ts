/**
 * The account in the record (issue 13, item 1): a session belongs to the Stripe account it was
 * first seen through; an observation through another account is refused and changes nothing.
 */
import { fc, test } from "@fast-check/vitest"
import { Result, Schema } from "effect"
import { describe, expect, it } from "vitest"
import {
  AccountMismatch,
  accountOf,
  decide,
  decideAndFold,
  defaultAccount,
  fold,
  initialState,
  isConnectedAccount,
  type Observe,
  type SessionCommand,
  SessionEvent,
  SessionState,
} from "../src/index.ts"
import { apiRead, session, webhook } from "./support/sessions.ts"
import { deliveredHistoryArb, type Moment } from "./support/stripe-model.ts"

const through = (account: string | undefined, command: Observe): Observe =>
  account === undefined ? command : { ...command, account }

const observeAll = (observations: ReadonlyArray<SessionCommand>, start: SessionState = initialState) => {
  let state = start
  for (const o of observations) state = Result.getOrThrow(decideAndFold(o, state)).state
  return state
}

describe("the account of a session", () => {
  it("a session starts under the account its first observation names, and the event says so", () => {
    const { events, state } = Result.getOrThrow(
      decideAndFold(through("acct_1Connected", webhook(session(), 100)), initialState),
    )
    expect(events[0]).toMatchObject({ _tag: "SessionStarted", account: "acct_1Connected" })
    expect(state.account).toBe("acct_1Connected")
    expect(accountOf(state)).toBe("acct_1Connected")
  })

  it('an observation naming no account, or naming "default", starts the session under "default"; the event reads as before accounts (no key)', () => {
    for (const account of [undefined, "default"]) {
      const { events, state } = Result.getOrThrow(
        decideAndFold(through(account, webhook(session(), 100)), initialState),
      )
      expect(events[0]).not.toHaveProperty("account")
      expect(accountOf(state)).toBe(defaultAccount)
    }
  })

  it("before its first observation a stream has no account", () => {
    expect(accountOf(initialState)).toBeNull()
  })

  it("every later event keeps the session's account in the state", () => {
    const state = observeAll([
      through("second", webhook(session(), 100)),
      through("second", webhook(session({ status: "processing" }), 110)),
      through("second", apiRead(session({ status: "verified" }), 120)),
      { _tag: "RequestRedact", sessionId: "vs_test_1", requestedAt: 130 },
    ])
    expect(state.facts?.status).toBe("verified")
    expect(state.account).toBe("second")
  })

  it("an observation through another account is refused with AccountMismatch naming the session, the recorded and the observed account", () => {
    const started = observeAll([through("default", webhook(session(), 100))])
    const decision = decide(through("acct_1Other", apiRead(session({ status: "verified" }), 200)), started)
    expect(Result.isFailure(decision)).toBe(true)
    const error = Result.isFailure(decision) ? decision.failure : undefined
    expect(error).toBeInstanceOf(AccountMismatch)
    expect(error).toMatchObject({
      _tag: "AccountMismatch",
      sessionId: "vs_test_1",
      recorded: "default",
      observed: "acct_1Other",
    })
    expect(error?.message).toMatch(/recorded under account default.*through account acct_1Other/)
  })

  it("a state stored before accounts (no account key) is the default account's: default observations go on, others are refused", () => {
    const { account: _, ...old } = observeAll([webhook(session(), 100)])
    const stored = Schema.decodeUnknownSync(SessionState)(JSON.parse(JSON.stringify(old)))
    expect(stored).not.toHaveProperty("account")
    expect(accountOf(stored)).toBe("default")
    const next = Result.getOrThrow(decide(webhook(session({ status: "processing" }), 110), stored))
    expect(next.map((e) => e._tag)).toEqual(["SessionSubmitted"])
    expect(Result.isFailure(decide(through("second", webhook(session(), 110)), stored))).toBe(true)
  })

  it("a SessionStarted written before accounts decodes and folds to the default account", () => {
    const old = {
      _tag: "SessionStarted",
      sessionId: "vs_old",
      at: 100,
      source: "webhook",
      stripeEventType: null,
      midLife: false,
      facts: observeAll([webhook(session({ id: "vs_old" }), 100)]).facts,
    }
    const event = Schema.decodeUnknownSync(SessionEvent)(old)
    expect(accountOf(fold([event]))).toBe("default")
  })

  it("requests need no account: they are decided on the session whatever its account", () => {
    const started = observeAll([through("acct_1Connected", webhook(session(), 100))])
    const decision = decide({ _tag: "RequestCancel", sessionId: "vs_test_1", requestedAt: 150 }, started)
    expect(Result.getOrThrow(decision).map((e) => e._tag)).toEqual(["CancelRequested"])
  })

  it("an account key starting with acct_ is a connected account; anything else names a platform account", () => {
    expect(isConnectedAccount("acct_1Nv0FGQ9RKHgCVdK")).toBe(true)
    expect(isConnectedAccount("default")).toBe(false)
    expect(isConnectedAccount("second")).toBe(false)
  })
})

const asWebhook = (m: Moment, account: string): Observe => ({
  _tag: "Observe",
  session: m.snapshot,
  source: "webhook",
  observedAt: m.at,
  stripeEventId: m.eventId,
  account,
})

const accountArb = fc.constantFrom("default", "second", "acct_1Connected", "acct_2Other")

describe("laws", () => {
  test.prop(
    [
      deliveredHistoryArb(),
      accountArb,
      accountArb,
      fc.array(fc.tuple(fc.nat(), fc.boolean()), { minLength: 1, maxLength: 10 }),
    ],
    { numRuns: 300 },
  )(
    "law: an observation from another account never changes a session's state (any history, any delivery, webhooks or reads, 300 runs)",
    ({ history, delivered }, own, other, intrusions) => {
      fc.pre(own !== other)
      const state = observeAll(delivered.length === 0 ? [] : delivered.map((m) => asWebhook(m, own)))
      for (const [i, read] of intrusions) {
        const m = history.moments[i % history.moments.length]!
        const command: Observe = read
          ? {
              _tag: "Observe",
              session: m.snapshot,
              source: "reconciler",
              observedAt: m.at + 1_000,
              account: other,
            }
          : asWebhook(m, other)
        const decided = decideAndFold(command, state)
        if (state.sessionId === null) continue // a fresh stream takes the first account it hears of
        expect(Result.isFailure(decided)).toBe(true)
        if (Result.isFailure(decided)) expect(decided.failure._tag).toBe("AccountMismatch")
      }
    },
  )

  test.prop([deliveredHistoryArb(), accountArb], { numRuns: 300 })(
    "law: the account changes nothing else: a delivery through any one account folds to the default account's state but for the account",
    ({ delivered }, account) => {
      const plain = observeAll(delivered.map((m) => asWebhook(m, "default")))
      const { account: a, ...rest } = observeAll(delivered.map((m) => asWebhook(m, account)))
      const { account: _, ...plainRest } = plain
      expect(rest).toEqual(plainRest)
      expect(a).toBe(delivered.length === 0 ? null : account)
    },
  )
})
