/**
 * The state of one session's stream, folded from its events by `evolve`. It is also the shape of
 * the store's inline projection.
 *
 * @since 0.1.0
 */

import { Schema } from "effect"
import type { FieldChange, SessionEvent } from "./events.ts"
import { isRedacted, redactionRank, SessionFacts } from "./facts.ts"

/**
 * A session's state. A Schema, so a stored projection can be decoded back rather than trusted.
 *
 * - `sessionId`: `null` until the first event: the stream knows no session yet.
 * - `version`: number of events folded in; the stream version.
 * - `facts`: what we know of the session; `null` before it started.
 * - `lastChangeAt`: Stripe time of the latest change (or authoritative confirmation); older
 *   observations are stale.
 * - `needsRefresh`: an observation could not be placed; only an authoritative read clears it.
 * - `capturedOutputs`: names of verified outputs captured since the last redaction; never values.
 */
export const SessionState = Schema.Struct({
  sessionId: Schema.NullOr(Schema.String),
  version: Schema.Int,
  facts: Schema.NullOr(SessionFacts),
  lastChangeAt: Schema.NullOr(Schema.Int),
  needsRefresh: Schema.Boolean,
  capturedOutputs: Schema.Array(Schema.String),
})
export type SessionState = typeof SessionState.Type

export const initialState: SessionState = {
  sessionId: null,
  version: 0,
  facts: null,
  lastChangeAt: null,
  needsRefresh: false,
  capturedOutputs: [],
}

const later = (a: number | null, b: number): number => (a === null || b > a ? b : a)

const withFacts = (state: SessionState, at: number, patch: Partial<SessionFacts>): SessionState =>
  state.facts === null
    ? { ...state, version: state.version + 1 }
    : {
        ...state,
        version: state.version + 1,
        facts: { ...state.facts, ...patch },
        lastChangeAt: later(state.lastChangeAt, at),
      }

const applyChanges = (changes: ReadonlyArray<FieldChange>): Partial<SessionFacts> => {
  const patch: Record<string, unknown> = {}
  for (const change of changes) patch[change.field] = change.to
  return patch as Partial<SessionFacts>
}

/** Folds one event into the state. Total: an event it does not know only bumps the version. */
export const evolve = (state: SessionState, event: SessionEvent): SessionState => {
  switch (event._tag) {
    case "SessionStarted":
      return {
        sessionId: event.sessionId,
        version: state.version + 1,
        facts: event.facts,
        lastChangeAt: event.at,
        needsRefresh: false,
        capturedOutputs: [],
      }
    case "SessionSubmitted":
      return withFacts(state, event.at, { status: "processing" })
    case "SessionVerified":
      return withFacts(state, event.at, {
        status: "verified",
        lastVerificationReport: event.lastVerificationReport,
      })
    case "VerificationFailed":
      return withFacts(state, event.at, {
        status: "requires_input",
        lastError: { code: event.code, reason: event.reason },
        lastVerificationReport: event.lastVerificationReport,
      })
    case "SessionCanceled":
      return withFacts(state, event.at, { status: "canceled" })
    case "SessionUpdated":
      return withFacts(state, event.at, applyChanges(event.changes))
    case "RedactionStarted":
      return {
        ...withFacts(state, event.at, { redactionStatus: event.redactionStatus }),
        capturedOutputs: isRedacted(event.redactionStatus) ? [] : state.capturedOutputs,
      }
    case "SessionRedacted":
      return { ...withFacts(state, event.at, { redactionStatus: "redacted" }), capturedOutputs: [] }
    case "SessionResynced": {
      // Authoritative reads win, except that redaction never goes back.
      const local = state.facts?.redactionStatus ?? null
      const redactionStatus =
        redactionRank(local) > redactionRank(event.remote.redactionStatus)
          ? local
          : event.remote.redactionStatus
      return {
        ...state,
        sessionId: event.sessionId,
        version: state.version + 1,
        facts: { ...event.remote, redactionStatus },
        lastChangeAt: later(state.lastChangeAt, event.at),
        capturedOutputs: isRedacted(redactionStatus) ? [] : state.capturedOutputs,
      }
    }
    case "VerifiedOutputsCaptured":
      return { ...state, version: state.version + 1, capturedOutputs: event.fields }
    case "RefreshNeeded":
      return { ...state, version: state.version + 1, needsRefresh: true }
    case "RefreshCompleted":
      return {
        ...state,
        version: state.version + 1,
        needsRefresh: false,
        lastChangeAt: later(state.lastChangeAt, event.at),
      }
    case "CancelRequested":
    case "RedactionRequested":
    case "UpdateRequested":
      return { ...state, version: state.version + 1 }
    default:
      return { ...state, version: state.version + 1 }
  }
}

/** Folds a sequence of events, starting from `state` (the initial state by default). */
export const fold = (events: Iterable<SessionEvent>, state: SessionState = initialState): SessionState => {
  let acc = state
  for (const event of events) acc = evolve(acc, event)
  return acc
}
