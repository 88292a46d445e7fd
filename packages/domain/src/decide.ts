/**
 * `decide(command, state)`: what a command means for a session, as events or a typed error.
 * Pure and total. The rules for observations follow design.md §3; the package README lists them
 * with the choices made where the design is silent.
 *
 * @since 0.1.0
 */
import { Result } from "effect"
import { isAuthoritative, type Observe, type RequestUpdate, type SessionCommand } from "./commands.ts"
import {
  type DecideError,
  InvalidRequest,
  SessionMismatch,
  SessionNotFound,
  TransitionNotAllowed,
} from "./errors.ts"
import type { FieldChange, SessionEvent } from "./events.ts"
import {
  capturedOutputFields,
  factsOf,
  isRedacted,
  jsonEqual,
  redactionRank,
  type SessionFacts,
  trackedFields,
} from "./facts.ts"
import { type Action, isActionAllowed, isTerminal, pathBetween } from "./lifecycle.ts"
import { isKnownSessionStatus } from "./session.ts"
import { evolve, type SessionState } from "./state.ts"

/** The events a command produces, or why it is refused. */
export type Decision = Result.Result<ReadonlyArray<SessionEvent>, DecideError>

/** Collects events while folding them into a scratch state, so later rules see earlier ones. */
const recorder = (initial: SessionState) => {
  const events: Array<SessionEvent> = []
  let state = initial
  return {
    emit: (event: SessionEvent) => {
      events.push(event)
      state = evolve(state, event)
    },
    get state() {
      return state
    },
    events,
  }
}

/** The transition event that moves a session into `to` (a step of a legal path). */
const transitionInto = (to: string, sessionId: string, at: number, facts: SessionFacts): SessionEvent => {
  switch (to) {
    case "processing":
      return { _tag: "SessionSubmitted", sessionId, at }
    case "verified":
      return { _tag: "SessionVerified", sessionId, at, lastVerificationReport: facts.lastVerificationReport }
    case "requires_input":
      return {
        _tag: "VerificationFailed",
        sessionId,
        at,
        code: facts.lastError?.code ?? null,
        reason: facts.lastError?.reason ?? null,
        lastVerificationReport: facts.lastVerificationReport,
      }
    default:
      return { _tag: "SessionCanceled", sessionId, at }
  }
}

const changedFields = (local: SessionFacts, remote: SessionFacts): Array<FieldChange> => {
  const changes: Array<FieldChange> = []
  for (const field of trackedFields) {
    if (!jsonEqual(local[field], remote[field]))
      changes.push({ field, from: local[field], to: remote[field] })
  }
  return changes
}

const isAmbiguousPair = (a: string, b: string): boolean =>
  (a === "requires_input" && b === "processing") || (a === "processing" && b === "requires_input")

const observe = (command: Observe, state: SessionState): Decision => {
  const session = command.session
  const sessionId = session.id
  if (state.sessionId !== null && state.sessionId !== sessionId) {
    return Result.fail(
      new SessionMismatch({
        expected: state.sessionId,
        actual: sessionId,
        message: `an observation of ${sessionId} was sent to the stream of ${state.sessionId}`,
      }),
    )
  }
  const at = command.observedAt
  const authoritative = isAuthoritative(command.source)
  const remote = factsOf(session)
  const rec = recorder(state)
  const outputs = capturedOutputFields(session.verified_outputs)

  const local = state.facts
  if (local === null) {
    rec.emit({
      _tag: "SessionStarted",
      sessionId,
      at,
      source: command.source,
      stripeEventType: command.stripeEventType ?? null,
      midLife: !(
        remote.status === "requires_input" &&
        remote.lastError === null &&
        remote.lastVerificationReport === null
      ),
      facts: remote,
    })
    if (outputs.length > 0 && !isRedacted(remote.redactionStatus)) {
      rec.emit({ _tag: "VerifiedOutputsCaptured", sessionId, at, fields: outputs })
    }
    if (!authoritative && !isKnownSessionStatus(remote.status)) {
      rec.emit({
        _tag: "RefreshNeeded",
        sessionId,
        at,
        reason: "unknown_status",
        observedStatus: remote.status,
      })
    }
    return Result.succeed(rec.events)
  }

  const last = state.lastChangeAt ?? Number.NEGATIVE_INFINITY
  // Older than what we already know: a late or replayed delivery, or a slow read.
  if (at < last) return Result.succeed([])
  const sameSecond = at === last
  const needRefresh = (reason: "ambiguous_same_second" | "unknown_status"): Decision => {
    if (state.needsRefresh) return Result.succeed([])
    return Result.succeed([{ _tag: "RefreshNeeded", sessionId, at, reason, observedStatus: remote.status }])
  }

  // The status axis.
  let resynced = false
  if (remote.status !== local.status) {
    const path =
      isKnownSessionStatus(local.status) && isKnownSessionStatus(remote.status)
        ? pathBetween(local.status, remote.status)
        : undefined
    if (authoritative) {
      if (path === undefined) {
        rec.emit({ _tag: "SessionResynced", sessionId, at, source: command.source, local, remote })
        resynced = true
      } else {
        for (const step of path) rec.emit(transitionInto(step, sessionId, at, remote))
      }
    } else {
      // A terminal session only hears about its past from webhooks.
      if (isKnownSessionStatus(local.status) && isTerminal(local.status)) return Result.succeed([])
      if (path === undefined) return needRefresh("unknown_status")
      if (sameSecond && isAmbiguousPair(local.status, remote.status))
        return needRefresh("ambiguous_same_second")
      for (const step of path) rec.emit(transitionInto(step, sessionId, at, remote))
    }
  }

  // The redaction axis: only ever forward, even against an authoritative read.
  if (!resynced) {
    const current = rec.state.facts?.redactionStatus ?? null
    if (redactionRank(remote.redactionStatus) > redactionRank(current)) {
      if (remote.redactionStatus === "redacted") {
        if (!isRedacted(current))
          rec.emit({ _tag: "RedactionStarted", sessionId, at, redactionStatus: "processing" })
        rec.emit({ _tag: "SessionRedacted", sessionId, at })
      } else if (remote.redactionStatus !== null) {
        rec.emit({ _tag: "RedactionStarted", sessionId, at, redactionStatus: remote.redactionStatus })
      }
    }
  }

  // Tracked fields. After redaction, the only metadata change recorded is its erasure.
  const scratch = rec.state.facts ?? local
  if (!resynced) {
    const redacted = isRedacted(scratch.redactionStatus)
    const changes = changedFields(scratch, remote).filter(
      (c) => !(redacted && c.field === "metadata" && Object.keys(remote.metadata).length > 0),
    )
    if (changes.length > 0) {
      if (!authoritative && sameSecond && rec.events.length === 0) return needRefresh("ambiguous_same_second")
      rec.emit({ _tag: "SessionUpdated", sessionId, at, changes })
    }
  }

  // Verified outputs: names only, and never after a redaction.
  const after = rec.state
  if (
    outputs.length > 0 &&
    !isRedacted(after.facts?.redactionStatus ?? null) &&
    !jsonEqual(outputs, after.capturedOutputs)
  ) {
    rec.emit({ _tag: "VerifiedOutputsCaptured", sessionId, at, fields: outputs })
  }

  if (authoritative && state.needsRefresh) {
    rec.emit({ _tag: "RefreshCompleted", sessionId, at, source: command.source })
  }
  return Result.succeed(rec.events)
}

const guard = (
  action: Action,
  sessionId: string,
  state: SessionState,
): Result.Result<SessionFacts, DecideError> => {
  if (state.facts === null || state.sessionId !== sessionId) {
    return Result.fail(
      new SessionNotFound({
        sessionId,
        action,
        message: `cannot ${action} ${sessionId}: no session with this id has been observed`,
      }),
    )
  }
  const status = state.facts.status
  if (!isActionAllowed(action, status)) {
    return Result.fail(
      new TransitionNotAllowed({
        sessionId,
        status,
        action,
        message: `cannot ${action} ${sessionId}: its status is ${status}`,
      }),
    )
  }
  if (isRedacted(state.facts.redactionStatus)) {
    return Result.fail(
      new TransitionNotAllowed({
        sessionId,
        status,
        action,
        message: `cannot ${action} ${sessionId}: it is redacted`,
      }),
    )
  }
  return Result.succeed(state.facts)
}

const METADATA_KEYS = 50
const METADATA_KEY_LENGTH = 40
const METADATA_VALUE_LENGTH = 500

const validateUpdate = (command: RequestUpdate): InvalidRequest | undefined => {
  if (command.type !== undefined && command.type !== "document" && command.type !== "id_number") {
    return new InvalidRequest({
      param: "type",
      message: `type must be "document" or "id_number", got ${JSON.stringify(command.type)}`,
    })
  }
  const metadata = command.metadata ?? {}
  const keys = Object.keys(metadata)
  if (keys.length > METADATA_KEYS) {
    return new InvalidRequest({ param: "metadata", message: `metadata has ${keys.length} keys; at most 50` })
  }
  for (const key of keys) {
    if (key.length === 0 || key.length > METADATA_KEY_LENGTH || key.includes("[") || key.includes("]")) {
      return new InvalidRequest({
        param: `metadata[${key}]`,
        message: "metadata keys are 1 to 40 characters, without [ or ]",
      })
    }
    if ((metadata[key] ?? "").length > METADATA_VALUE_LENGTH) {
      return new InvalidRequest({
        param: `metadata[${key}]`,
        message: "metadata values are at most 500 characters",
      })
    }
  }
  return undefined
}

/**
 * Decides what a command means for the session in `state`.
 *
 * Observations never fail for being late, duplicated or out of order: they produce fewer events.
 * Requests fail with `TransitionNotAllowed` when Stripe would refuse them.
 */
export const decide = (command: SessionCommand, state: SessionState): Decision => {
  switch (command._tag) {
    case "Observe":
      return observe(command, state)
    case "RequestCancel":
      return Result.map(guard("cancel", command.sessionId, state), () => [
        { _tag: "CancelRequested", sessionId: command.sessionId, at: command.requestedAt } as const,
      ])
    case "RequestRedact":
      return Result.map(guard("redact", command.sessionId, state), () => [
        { _tag: "RedactionRequested", sessionId: command.sessionId, at: command.requestedAt } as const,
      ])
    case "RequestUpdate": {
      const invalid = validateUpdate(command)
      if (invalid !== undefined) return Result.fail(invalid)
      return Result.map(guard("update", command.sessionId, state), (): ReadonlyArray<SessionEvent> => {
        const event: {
          -readonly [K in keyof Extract<SessionEvent, { _tag: "UpdateRequested" }>]: Extract<
            SessionEvent,
            { _tag: "UpdateRequested" }
          >[K]
        } = {
          _tag: "UpdateRequested",
          sessionId: command.sessionId,
          at: command.requestedAt,
          providedDetailsFields: (["email", "phone"] as const).filter(
            (k) => command.provided_details?.[k] !== undefined,
          ),
        }
        if (command.metadata !== undefined) event.metadata = command.metadata
        if (command.options !== undefined) event.options = command.options
        if (command.type === "document" || command.type === "id_number") event.type = command.type
        return [event]
      })
    }
  }
}
