/**
 * The state of one session's stream, folded from its events by `evolve`. It is also the shape of
 * the store's inline projection.
 *
 * @since 0.1.0
 */

import { Schema } from "effect"
import { defaultAccount } from "./account.ts"
import type { FieldChange, SessionEvent } from "./events.ts"
import { isRedacted, redactionRank, SessionFacts } from "./facts.ts"
import { emptyTimeline, recordStep, Timeline } from "./steps.ts"

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
 * - `confirmedAt`: Stripe time of the newest authoritative read handled, whether or not it
 *   changed anything; older observations are stale too. The one field not folded from events:
 *   `evolve` carries it over, `confirm` moves it, and the store keeps it beside the stream (a read
 *   that changes nothing writes no event). A rebuild derives a lower bound: the newest
 *   `observedAt` of the stream's authoritative events. Absent in states stored before it.
 * - `account`: the Stripe account the session belongs to, set by `SessionStarted`; `null` before
 *   it started. Absent in states stored before accounts: read it with `accountOf`.
 * - `timeline`: the last steps the history records (`steps.ts`), so a late step is recorded only
 *   when the history lacks it. `null` (or absent, in states stored before it) when unknown: a
 *   state folded from its stream has one; a stored state from before late steps gets one when
 *   the projection is rebuilt, and until then records no late step.
 */
export const SessionState = Schema.Struct({
  sessionId: Schema.NullOr(Schema.String),
  version: Schema.Int,
  facts: Schema.NullOr(SessionFacts),
  lastChangeAt: Schema.NullOr(Schema.Int),
  needsRefresh: Schema.Boolean,
  capturedOutputs: Schema.Array(Schema.String),
  confirmedAt: Schema.optionalKey(Schema.NullOr(Schema.Int)),
  account: Schema.optionalKey(Schema.NullOr(Schema.String)),
  timeline: Schema.optionalKey(Schema.NullOr(Timeline)),
})
export type SessionState = typeof SessionState.Type

export const initialState: SessionState = {
  sessionId: null,
  version: 0,
  facts: null,
  lastChangeAt: null,
  needsRefresh: false,
  capturedOutputs: [],
  confirmedAt: null,
  account: null,
  timeline: emptyTimeline,
}

/**
 * The account of a started session (`"default"` for one stored before accounts); `null` before
 * the session started.
 */
export const accountOf = (state: SessionState): string | null =>
  state.sessionId === null ? null : (state.account ?? defaultAccount)

const later = (a: number | null, b: number): number => (a === null || b > a ? b : a)

/**
 * The next state after an event that changes facts at Stripe time `at`. Built field by field,
 * not by spreading, because `evolve` is the hot path of every fold and rebuild.
 */
const changed = (
  state: SessionState,
  at: number,
  facts: SessionFacts | null,
  capturedOutputs: ReadonlyArray<string> = state.capturedOutputs,
  timeline: Timeline | null = state.timeline ?? null,
): SessionState => ({
  sessionId: state.sessionId,
  version: state.version + 1,
  facts,
  lastChangeAt: facts === null ? state.lastChangeAt : later(state.lastChangeAt, at),
  needsRefresh: state.needsRefresh,
  capturedOutputs,
  confirmedAt: state.confirmedAt ?? null,
  account: state.account ?? null,
  timeline,
})

/** Only the version moves (an event with no effect on the session's facts). */
const counted = (state: SessionState, patch: Partial<SessionState> = {}): SessionState => ({
  ...state,
  ...patch,
  version: state.version + 1,
})

const applyChanges = (facts: SessionFacts, changes: ReadonlyArray<FieldChange>): SessionFacts => {
  const next: Record<string, unknown> = { ...facts }
  for (const change of changes) next[change.field] = change.to
  return next as SessionFacts
}

/** The timeline once `event`'s step is recorded; unknown stays unknown. */
const stepped = (state: SessionState, event: SessionEvent): Timeline | null =>
  state.timeline == null ? null : recordStep(state.timeline, event)

/** A late step is history only: the version and the timeline move, the present does not. */
const isLate = (event: SessionEvent): boolean => (event as { readonly late?: boolean }).late === true

/** Folds one event into the state. Total: an event it does not know only bumps the version. */
export const evolve = (state: SessionState, event: SessionEvent): SessionState =>
  isLate(event)
    ? { ...state, version: state.version + 1, timeline: stepped(state, event) }
    : present(state, event)

/** `evolve` for an event on time: it moves the present (and records its step). */
const present = (state: SessionState, event: SessionEvent): SessionState => {
  switch (event._tag) {
    case "SessionStarted":
      return {
        sessionId: event.sessionId,
        version: state.version + 1,
        facts: event.facts,
        lastChangeAt: event.at,
        needsRefresh: false,
        capturedOutputs: [],
        confirmedAt: state.confirmedAt ?? null,
        account: event.account ?? defaultAccount,
        // The first event: the history's steps start here, so the timeline is complete.
        timeline: recordStep(emptyTimeline, event),
      }
    case "SessionSubmitted":
      return changed(
        state,
        event.at,
        state.facts && { ...state.facts, status: "processing" },
        state.capturedOutputs,
        stepped(state, event),
      )
    case "SessionVerified":
      return changed(
        state,
        event.at,
        state.facts && {
          ...state.facts,
          status: "verified",
          lastVerificationReport: event.lastVerificationReport,
        },
        state.capturedOutputs,
        stepped(state, event),
      )
    case "VerificationFailed":
      return changed(
        state,
        event.at,
        state.facts && {
          ...state.facts,
          status: "requires_input",
          lastError: { code: event.code, reason: event.reason },
          lastVerificationReport: event.lastVerificationReport,
        },
        state.capturedOutputs,
        stepped(state, event),
      )
    case "SessionCanceled":
      return changed(
        state,
        event.at,
        state.facts && { ...state.facts, status: "canceled" },
        state.capturedOutputs,
        stepped(state, event),
      )
    case "SessionUpdated":
      return changed(state, event.at, state.facts && applyChanges(state.facts, event.changes))
    case "RedactionStarted":
      return changed(
        state,
        event.at,
        state.facts && { ...state.facts, redactionStatus: event.redactionStatus },
        isRedacted(event.redactionStatus) ? [] : state.capturedOutputs,
      )
    case "SessionRedacted":
      return changed(state, event.at, state.facts && { ...state.facts, redactionStatus: "redacted" }, [])
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
        timeline: stepped(state, event),
      }
    }
    case "VerifiedOutputsCaptured":
      return counted(state, { capturedOutputs: event.fields })
    case "RefreshNeeded":
      return counted(state, { needsRefresh: true })
    case "RefreshCompleted":
      return counted(state, { needsRefresh: false, lastChangeAt: later(state.lastChangeAt, event.at) })
    case "CancelRequested":
    case "RedactionRequested":
    case "UpdateRequested":
    case "SessionErased":
    case "VaultAccessed":
    case "VerifiedOutputsVaulted":
      return counted(state)
    default:
      return counted(state)
  }
}

/**
 * The newest Stripe time the state has heard of: its last change or its last authoritative read.
 * An observation older than this is stale.
 */
export const newestKnownAt = (state: SessionState): number | null => {
  const confirmed = state.confirmedAt ?? null
  return confirmed === null ? state.lastChangeAt : later(state.lastChangeAt, confirmed)
}

/**
 * The state after an authoritative read at `at` was handled (after its events, if any):
 * `confirmedAt` moves forward to `at`, never back.
 */
export const confirmedBy = (state: SessionState, at: number): SessionState => {
  const confirmed = later(state.confirmedAt ?? null, at)
  return confirmed === state.confirmedAt ? state : { ...state, confirmedAt: confirmed }
}

/** Folds a sequence of events, starting from `state` (the initial state by default). */
export const fold = (events: Iterable<SessionEvent>, state: SessionState = initialState): SessionState => {
  let acc = state
  for (const event of events) acc = evolve(acc, event)
  return acc
}
