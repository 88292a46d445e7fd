/**
 * Test builders: Stripe VerificationSession snapshots and given/when/then specifications for
 * the decider, in the style of Emmett's decider specifications.
 */
import { Result } from "effect"
import { expect } from "vitest"
import {
  type DecideError,
  decide,
  fold,
  initialState,
  type SessionCommand,
  type SessionEvent,
  type SessionState,
  type VerificationSession,
} from "../../src/index.ts"

export const SESSION_ID = "vs_test_1"

/** A requires_input session as Stripe returns it right after creation. */
export const session = (overrides: Partial<VerificationSession> = {}): VerificationSession => ({
  id: SESSION_ID,
  object: "identity.verification_session",
  client_reference_id: null,
  client_secret: "vs_test_1_secret_live_abc",
  created: 1_000,
  last_error: null,
  last_verification_report: null,
  livemode: false,
  metadata: {},
  options: { document: {} },
  redaction: null,
  related_customer: null,
  related_customer_account: null,
  status: "requires_input",
  type: "document",
  url: "https://verify.stripe.com/start/test_abc",
  ...overrides,
})

export const webhook = (snapshot: VerificationSession, observedAt: number, stripeEventId?: string) =>
  ({
    _tag: "Observe",
    session: snapshot,
    source: "webhook",
    observedAt,
    ...(stripeEventId === undefined ? {} : { stripeEventId }),
  }) as const

export const apiRead = (snapshot: VerificationSession, observedAt: number) =>
  ({ _tag: "Observe", session: snapshot, source: "api", observedAt }) as const

/** Given some events, when a command, then events (or an error). */
export const given = (events: ReadonlyArray<SessionEvent>) => {
  const state: SessionState = fold(events, initialState)
  return {
    state,
    when: (command: SessionCommand) => {
      const decision = decide(command, state)
      return {
        thenEvents: (expected: ReadonlyArray<SessionEvent>) => {
          if (Result.isFailure(decision)) throw new Error(`expected events, got ${decision.failure._tag}`)
          expect(decision.success).toEqual(expected)
          return fold(decision.success, state)
        },
        thenTags: (expected: ReadonlyArray<SessionEvent["_tag"]>) => {
          if (Result.isFailure(decision)) throw new Error(`expected events, got ${decision.failure._tag}`)
          expect(decision.success.map((e) => e._tag)).toEqual(expected)
          return { events: decision.success, state: fold(decision.success, state) }
        },
        thenFails: (tag: DecideError["_tag"]): DecideError => {
          if (Result.isSuccess(decision)) {
            throw new Error(`expected ${tag}, got events ${decision.success.map((e) => e._tag).join(", ")}`)
          }
          expect(decision.failure._tag).toBe(tag)
          return decision.failure
        },
      }
    },
  }
}

/** The events that start a stream from a first observation of `snapshot` at `at`. */
export const started = (snapshot: VerificationSession, at: number): ReadonlyArray<SessionEvent> =>
  Result.getOrThrow(decide(webhook(snapshot, at), initialState))

/** Every string in a JSON value, keys included: what a scan for secrets must look at. */
export const stringsIn = (value: unknown): Array<string> => {
  if (typeof value === "string") return [value]
  if (typeof value !== "object" || value === null) return []
  if (Array.isArray(value)) return value.flatMap(stringsIn)
  return Object.entries(value).flatMap(([key, v]) => [key, ...stringsIn(v)])
}
